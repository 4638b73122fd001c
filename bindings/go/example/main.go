// Command example joins one round of a secagg coordinator with a vector and prints how it ended.
//
//	example -coordinator 127.0.0.1:7461 -coordinator-key HEX -identity client5.key -task demo 5,10,100,1000
//
// Exit status: 0 completed, 3 aborted, 1 any error (the message names its class, e.g. "not enrolled").
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	secagg "github.com/secagg/secagg/bindings/go"
)

func main() {
	address := flag.String("coordinator", "127.0.0.1:7461", "the coordinator's host:port")
	keyHex := flag.String("coordinator-key", "", "the coordinator's public key (64 hex digits)")
	identityPath := flag.String("identity", "client.key", "this client's identity file (secagg keygen)")
	task := flag.String("task", "demo", "the task to contribute to")
	attempts := flag.Uint("connect-attempts", 5, "TCP connection attempts")
	flag.Parse()
	if flag.NArg() != 1 || *keyHex == "" {
		fmt.Fprintln(os.Stderr, "usage: example -coordinator-key HEX [-coordinator HOST:PORT] [-identity FILE] [-task NAME] V1,V2,...")
		os.Exit(2)
	}
	input, err := parseInput(flag.Arg(0))
	fail(err)
	host, portText, err := net.SplitHostPort(*address)
	fail(err)
	port, err := strconv.ParseUint(portText, 10, 16)
	fail(err)
	key, err := hex.DecodeString(*keyHex)
	fail(err)

	identity, err := secagg.LoadIdentity(*identityPath)
	fail(err)
	defer identity.Close()

	// SIGINT/SIGTERM cancel the round: the library tells the coordinator this client leaves.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	coordinator := secagg.Coordinator{Host: host, Port: uint16(port), PublicKey: key}
	options := &secagg.Options{ConnectAttempts: uint32(*attempts)}
	receipt, err := secagg.Participate(ctx, identity, coordinator, *task, input, options)
	switch {
	case errors.Is(err, secagg.ErrNotEnrolled):
		fmt.Fprintln(os.Stderr, "this identity is not enrolled; give the coordinator's operator its key:", publicKey(identity))
		os.Exit(1)
	case err != nil:
		fail(err)
	}
	if receipt.Outcome != secagg.OutcomeCompleted {
		fmt.Printf("round %x aborted (0x%04x): %s\n", receipt.RoundID, receipt.AbortCode, receipt.Message)
		os.Exit(3)
	}
	fmt.Printf("round %x completed: %d inputs in the sum\n", receipt.RoundID, receipt.Survivors)
}

func parseInput(text string) ([]uint64, error) {
	var input []uint64
	for _, field := range strings.Split(text, ",") {
		value, err := strconv.ParseUint(strings.TrimSpace(field), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("input entry %q: %w", field, err)
		}
		input = append(input, value)
	}
	return input, nil
}

func publicKey(identity *secagg.Identity) string {
	key, err := identity.PublicKeyHex()
	if err != nil {
		return "?"
	}
	return key
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}
