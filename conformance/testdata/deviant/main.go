// Command deviant serves conformance/internal/deviant on a loopback address,
// to try `ctibroker conformance` by hand against a server with known bugs:
//
//	go run ./conformance/testdata/deviant -bugs all
//	ctibroker conformance --url http://127.0.0.1:9311/taxii2/ --user deviant \
//	    --collection 8a3b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d   # password: env CTIBROKER_CONFORMANCE_PASSWORD=deviant
//
// It lives under testdata so that `go build ./...` and `go vet ./...` skip it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/ctibroker/ctibroker/conformance/internal/deviant"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9311", "listen address (loopback)")
	bugs := flag.String("bugs", "all", "comma-separated bugs to plant, all, or none")
	flag.Parse()
	var planted []deviant.Bug
	switch *bugs {
	case "all":
		planted = deviant.AllBugs()
	case "none", "":
	default:
		for _, b := range strings.Split(*bugs, ",") {
			planted = append(planted, deviant.Bug(b))
		}
	}
	fmt.Printf("deviant TAXII server on http://%s/taxii2/ (user deviant, password deviant), bugs %v\n", *addr, planted)
	log.Fatal(http.ListenAndServe(*addr, deviant.NewHandler(deviant.Config{User: "deviant", Password: "deviant", Bugs: planted})))
}
