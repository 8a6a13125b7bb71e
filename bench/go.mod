module github.com/sockudo/sockudo-go/bench

go 1.26.0

replace github.com/sockudo/sockudo-go => ../

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/sockudo/sockudo-go v0.0.0
)

require github.com/centrifugal/fdelta v0.0.3
