package taxii_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// ExampleNewServer wires a TAXII server over the embedded store with one
// consumer authenticating with HTTP Basic.
func ExampleNewServer() {
	dir, _ := os.MkdirTemp("", "ctibroker-example")
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "db"), bolt.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	const inbox = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11"
	authn, err := auth.New(auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: "soc", PasswordEnv: "SOC_PASSWORD", Read: []string{inbox}, Write: []string{inbox}},
	}}, auth.Options{Getenv: func(string) string { return "s3cret" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := taxii.NewServer(taxii.Config{
		APIRoots:    []taxii.APIRoot{{Name: "intel", Title: "ACME curated intelligence"}},
		Collections: []taxii.Collection{{ID: inbox, APIRoot: "intel", Title: "Inbox", Kind: "stored", Writable: true}},
	}, taxii.Deps{Store: store, Auth: authn, Challenge: auth.Challenge(), CursorKey: []byte("at-least-sixteen-bytes-of-key")})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	req, _ := http.NewRequest("GET", ts.URL+"/taxii2/", nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.SetBasicAuth("soc", "s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 200 application/taxii+json;version=2.1
	// {"title":"ctibroker TAXII 2.1","api_roots":["/intel/"]}
}
