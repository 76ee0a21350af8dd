// Package mongo is the MongoDB backend of ctibroker's storage contract.
package mongo
