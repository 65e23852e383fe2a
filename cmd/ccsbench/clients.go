package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/clients/mellium"
	"github.com/ccsbench/ccsbench/driver"
)

// clientNative is the name of the driver's own client, built on package ccs.
const clientNative = "native"

// clientFactories are the built-in CCS client implementations other than
// the native one, by the name --client takes. Each builds a
// driver.Transport for a target from the same client configuration, so
// that implementations run under one workload, window, retry and
// accounting code and can be compared.
var clientFactories = map[string]func(addr string, cfg ccs.ClientConfig) driver.Transport{
	"mellium": mellium.NewTransport,
}

// clientNames lists the values --client accepts, native first.
func clientNames() string {
	names := make([]string, 0, len(clientFactories))
	for n := range clientFactories {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(append([]string{clientNative}, names...), "|")
}

// checkClient reports whether name is a built-in client.
func checkClient(name string) error {
	if _, ok := clientFactories[name]; ok || name == clientNative {
		return nil
	}
	return fmt.Errorf("want one of %s", clientNames())
}

// clientTransport returns the transport of the client named name for the
// driver configuration cfg (target, credentials, TLS and dial timeout
// set), or nil for the native client, which driver.New builds itself.
// With several sender ids it is one transport per sender id, round-robin.
func clientTransport(name string, cfg driver.Config) driver.Transport {
	f, ok := clientFactories[name]
	if !ok {
		return nil
	}
	senders := cfg.SenderIDs
	if len(senders) == 0 {
		senders = []string{cfg.SenderID}
	}
	ts := make([]driver.Transport, len(senders))
	for i, id := range senders {
		ts[i] = f(cfg.Target, ccs.ClientConfig{
			SenderID:     id,
			APIKey:       cfg.APIKey,
			LoginDomain:  cfg.LoginDomain,
			BareIdentity: cfg.BareIdentity,
			TLS:          cfg.TLS,
			TLSMode:      cfg.TLSMode,
			Timeout:      cfg.DialTimeout,
		})
	}
	return driver.RoundRobin(ts...)
}
