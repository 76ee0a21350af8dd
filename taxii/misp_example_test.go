package taxii_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// ExampleMISPSync configures ctibroker as a MISP sync server: the consumer
// "partner-misp" authenticates with the key its MISP sends raw in
// Authorization, and its pushes land in the inbox it may write.
func ExampleMISPSync() {
	const inbox = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11"
	var cfg taxii.Config
	err := yaml.Unmarshal([]byte(`
api_roots: [{name: intel, title: Intel}]
collections:
  - {id: `+inbox+`, api_root: intel, title: MISP inbox, writable: true}
misp_sync:
  consumers:
    - {consumer: partner-misp, collection: `+inbox+`, feed: misp-partner}
`), &cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "ctibroker-example")
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "db"), bolt.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	const key = "Xk3vQ9zL1pR7sT2wY5uB8nC4mD6fG0hJ2aE9iO1q"
	authn, err := auth.New(auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: "partner-misp", MISPKeyEnv: "PARTNER_MISP_KEY", Write: []string{inbox}},
	}}, auth.Options{Getenv: func(string) string { return key }})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := taxii.NewServer(cfg, taxii.Deps{Store: store, Auth: authn, CursorKey: []byte("0123456789abcdef")})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/users/view/me.json", nil)
	req.Header.Set("Authorization", key) // MISP sends the key raw
	req.Header.Set("User-Agent", "MISP 2.5.1 - #bb0909a37a7b")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, string(b[:60]))
	// Output: 200 {"Organisation":{"id":"1","name":"ctibroker TAXII 2.1","uuid
}
