package auth_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

func ExampleAuthenticator_Authenticate() {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{
		Name:        "soc",
		PasswordEnv: "SOC_PASSWORD",
		Read:        []string{"inbox"},
		Write:       []string{"inbox"},
	}}}
	getenv := func(name string) string {
		return map[string]string{"SOC_PASSWORD": "s3cret"}[name]
	}
	a, err := auth.New(cfg, auth.Options{Getenv: getenv})
	if err != nil {
		fmt.Println(err)
		return
	}

	r := httptest.NewRequest("GET", "/taxii2/", nil)
	r.SetBasicAuth("soc", "s3cret")
	c, err := a.Authenticate(r)
	fmt.Println(c.Name, c.Scheme, c.CanWrite("inbox"), err)

	r.SetBasicAuth("soc", "guess")
	_, err = a.Authenticate(r)
	fmt.Println(errors.Is(err, auth.ErrInvalidCredentials), auth.Challenge())
	// Output:
	// soc basic true <nil>
	// true Basic realm="ctibroker", Bearer realm="ctibroker"
}

func ExampleNew_missingSecret() {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "soc", PasswordEnv: "SOC_PASSWORD"}}}
	_, err := auth.New(cfg, auth.Options{Getenv: func(string) string { return "" }})
	fmt.Println(err)
	// Output:
	// consumer "soc": password_env: environment variable SOC_PASSWORD is not set or empty
}
