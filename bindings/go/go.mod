module github.com/numashard/numashard/bindings/go

go 1.26.8

require github.com/puzpuzpuz/xsync/v4 v4.5.0
