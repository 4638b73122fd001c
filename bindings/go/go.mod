module github.com/secagg/secagg/bindings/go

go 1.19
