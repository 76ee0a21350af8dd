package taxii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Example_sightings posts a JSON list of sightings and a false positive as
// an EDR consumer with the sightings right; the server normalises the values,
// stores them and hands the new records to Deps.OnSightings (where cmd starts
// a curation pass).
func Example_sightings() {
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
		{Name: "edr", PasswordEnv: "EDR_PASSWORD", Sightings: true},
	}}, auth.Options{Getenv: func(string) string { return "s3cret" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := taxii.NewServer(taxii.Config{
		APIRoots:    []taxii.APIRoot{{Name: "intel", Title: "ACME curated intelligence"}},
		Collections: []taxii.Collection{{ID: inbox, APIRoot: "intel", Title: "Inbox", Kind: "stored", Writable: true}},
	}, taxii.Deps{Store: store, Auth: authn, CursorKey: []byte("at-least-sixteen-bytes-of-key"),
		Now: func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) },
		OnSightings: func(_ context.Context, s []storage.Sighting) {
			fmt.Printf("OnSightings: %d new records\n", len(s))
		}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	body := `[
	  {"value":"198.51.100[.]7","count":3,"first_seen":"2026-03-02T08:00:00Z","last_seen":"2026-03-02T09:00:00Z"},
	  {"type":"domain","value":"Mail.ACME.example","verdict":"false-positive","note":"our mail relay"},
	  {"value":"0.0.0.0"}
	]`
	req, _ := http.NewRequest("POST", ts.URL+"/intel/sightings/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth("edr", "s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var ans struct {
		Accepted []struct {
			Index                int
			Type, Value, Verdict string
			Count                int
			FirstSeen            string `json:"first_seen"`
			Stored               string
		}
		Refused []struct {
			Index          int
			Field, Message string
		}
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	for _, a := range ans.Accepted {
		fmt.Printf("accepted [%d] %s %s %s count %d first seen %s: %s\n", a.Index, a.Type, a.Value, a.Verdict, a.Count, a.FirstSeen, a.Stored)
	}
	for _, r := range ans.Refused {
		fmt.Printf("refused [%d] %s: %s\n", r.Index, r.Field, r.Message)
	}
	// Output:
	// OnSightings: 2 new records
	// 200 application/json
	// accepted [0] ipv4-addr 198.51.100.7 sighting count 3 first seen 2026-03-02T08:00:00.000Z: new
	// accepted [1] domain-name mail.acme.example false-positive count 1 first seen 2026-03-02T10:00:00.000Z: new
	// refused [2] value: placeholder "0.0.0.0" instead of a value
}
