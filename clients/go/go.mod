module github.com/dropbox-connector/dropbox-connector/clients/go

go 1.19

// The versions Debian bookworm packages (golang-google-grpc-dev, golang-google-protobuf-dev,
// golang-google-genproto-dev, golang-github-golang-protobuf-1-5-dev, golang-golang-x-*-dev):
// vendor-debian.sh links exactly these into vendor/ for an offline build.
require (
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

require (
	github.com/golang/protobuf v1.5.2 // indirect
	golang.org/x/net v0.7.0 // indirect
	golang.org/x/sys v0.3.0 // indirect
	golang.org/x/text v0.7.0 // indirect
)
