module example.com/customs/demo-go

go 1.19

// Versions of Debian bookworm's golang-*-dev packages; build.sh vendors their sources.
require (
	github.com/google/uuid v1.3.0
	golang.org/x/net v0.7.0
	golang.org/x/text v0.7.0
	gopkg.in/yaml.v2 v2.4.0
)
