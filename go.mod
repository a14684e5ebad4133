module wsraise

go 1.26.0

toolchain go1.26.10

require golang.org/x/net v0.62.0
