// A service's own module that uses the Go client, as a user would: required through a
// replace directive (the client is not published to a module proxy). clients/go/test.sh
// copies this folder out of the repository and runs `go test` in it.
module example.com/report-service

go 1.19

require github.com/dropbox-connector/dropbox-connector/clients/go v0.0.0

require (
	github.com/golang/protobuf v1.5.2 // indirect
	golang.org/x/net v0.7.0 // indirect
	golang.org/x/sys v0.3.0 // indirect
	golang.org/x/text v0.7.0 // indirect
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36 // indirect
	google.golang.org/grpc v1.33.3 // indirect
	google.golang.org/protobuf v1.28.1 // indirect
)

replace github.com/dropbox-connector/dropbox-connector/clients/go => ../
