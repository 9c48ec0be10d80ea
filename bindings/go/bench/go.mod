module github.com/numashard/numashard/bindings/go/bench

go 1.24

require (
	github.com/numashard/numashard/bindings/go v0.0.0
	github.com/puzpuzpuz/xsync/v4 v4.5.0
)

replace github.com/numashard/numashard/bindings/go => ../
