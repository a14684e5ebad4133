module wsraise/wsproto/h2test

go 1.26.0

replace wsraise => ../..

require (
	golang.org/x/net v0.62.0
	wsraise v0.0.0
)

require golang.org/x/text v0.43.0 // indirect
