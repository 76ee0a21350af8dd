package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleConfig writes the example config with its store in dir and absolute
// sample paths, and returns its path.
func exampleConfig(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/ctibroker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample := mustAbs(t, "../../examples/stix/sample-bundle.json")
	cfg := strings.Replace(string(b), "store: embedded:./data", "store: embedded:"+filepath.Join(dir, "data"), 1)
	cfg = strings.Replace(cfg, "file: stix/sample-bundle.json", "file: "+sample, 1)
	cfg = strings.Replace(cfg, "files: [examples/stix/sample-bundle.json]", "files: ["+sample+"]", 1)
	cfg = strings.Replace(cfg, "interval: 1h", "interval: 1m", 1)
	p := filepath.Join(dir, "ctibroker.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func bundleObjects(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatalf("not a bundle: %v\n%.300s", err, b)
	}
	if bundle.Type != "bundle" {
		t.Fatalf("type %q, want bundle", bundle.Type)
	}
	return bundle.Objects
}

const published = "9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04"
const poolColl = "6f1c9b2e-7d4a-4b8e-a2c5-0e9d8f7a6b53"

// TestBackupDeleteRestoreExport: while serve holds the embedded store, export
// and backup run through its admin socket; after serve stops and the store is
// deleted, restore brings back every object byte for byte.
func TestBackupDeleteRestoreExport(t *testing.T) {
	dir := t.TempDir()
	cfgPath := exampleConfig(t, dir)
	env := map[string]string{"SOC_PASSWORD": "s3cret"}

	// Serve seeds Published and pulls the sample feed into the pool.
	ctx, cancel := context.WithCancel(context.Background())
	m := NewMain(io.Discard, io.Discard)
	m.Getenv = func(k string) string { return env[k] }
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0"}) }()
	sock := filepath.Join(dir, "data", adminSocketName)
	export := func(coll string) []byte {
		t.Helper()
		out, errOut, err := run(t, env, "export", "--config", cfgPath, "--collection", coll)
		if err != nil {
			t.Fatalf("export %s: %v\n%s", coll, err, errOut)
		}
		return []byte(out)
	}
	deadline := time.Now().Add(20 * time.Second)
	var poolBefore []json.RawMessage
	for {
		if _, err := os.Stat(sock); err == nil {
			// Runs inside serve: opening the store here would fail on its lock.
			if poolBefore = bundleObjects(t, export(poolColl)); len(poolBefore) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never filled the pool")
		}
		time.Sleep(100 * time.Millisecond)
	}
	backup := filepath.Join(dir, "ctibroker.bak")
	if _, errOut, err := run(t, env, "backup", "--config", cfgPath, backup); err != nil {
		t.Fatalf("backup while serving: %v\n%s", err, errOut)
	}
	if out, _, err := run(t, env, "store", "check", "--config", cfgPath); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("store check while serving: %v\n%s", err, out)
	}
	// restore refuses to replace the store of a running server.
	if _, _, err := run(t, env, "restore", "--config", cfgPath, backup); err == nil {
		t.Fatal("restore succeeded while serve held the store")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("admin socket left after serve stopped: %v", err)
	}

	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "export", "--config", cfgPath, "--collection", published); err == nil {
		t.Fatal("export of a deleted store's collection succeeded")
	}
	if _, errOut, err := run(t, env, "restore", "--config", cfgPath, backup); err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut)
	}

	sample, err := os.ReadFile("../../examples/stix/sample-bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	want := bundleObjects(t, sample)
	got := bundleObjects(t, export(published))
	if len(got) != len(want) {
		t.Fatalf("restored Published holds %d objects, the sample %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("object %d differs after backup, delete, restore:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
	poolAfter := bundleObjects(t, export(poolColl))
	if len(poolAfter) != len(poolBefore) {
		t.Fatalf("restored pool holds %d objects, had %d", len(poolAfter), len(poolBefore))
	}
	for i := range poolBefore {
		if !bytes.Equal(poolAfter[i], poolBefore[i]) {
			t.Fatalf("pool object %d differs after restore", i)
		}
	}
}

func TestConfigFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", "a.yaml", "x"}, "a.yaml"},
		{[]string{"-config=b.yaml"}, "b.yaml"},
		{[]string{"--collection", "c", "--config=c.yaml"}, "c.yaml"},
		{[]string{"config", "d.yaml"}, ""},
		{[]string{"--config"}, ""},
	} {
		if got := configFlag(tt.args); got != tt.want {
			t.Errorf("configFlag(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
