module github.com/zenith-net/zenith/bindings/go

go 1.19
