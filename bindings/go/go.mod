module github.com/numashard/numashard/bindings/go

go 1.24
