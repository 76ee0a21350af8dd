// Package stix is ctibroker's STIX 2.1 data model: typed objects for what ctibroker
// produces, raw objects for what it receives, identifiers, timestamps, markings,
// streaming decoding and validation. It does no I/O beyond the readers it is given.
package stix
