// Package reports stands for a service that calls dropbox-connector through the Go client.
package reports
