package secagg

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLibraryVersion(t *testing.T) {
	if LibraryABIVersion() != ABIVersion {
		t.Fatalf("library ABI %d, binding ABI %d", LibraryABIVersion(), ABIVersion)
	}
	if Version() == "" {
		t.Fatal("empty version")
	}
}

func TestCodes(t *testing.T) {
	codes := []Code{ErrInvalidArgument, ErrBufferTooSmall, ErrIdentity, ErrIO, ErrUnreachable, ErrHandshake,
		ErrJoinRefused, ErrProtocol, ErrConnectionLost, ErrTimeout, ErrCancelled, ErrState, ErrInternal,
		ErrNotEnrolled, ErrRevoked, ErrUnknownTask, ErrQueueFull, ErrShuttingDown, ErrAlreadyJoined, ErrDropped,
		ErrOutcomeUnknown}
	messages := map[string]Code{}
	for index, code := range codes {
		if int(code) != index+1 {
			t.Fatalf("code %d at position %d", code, index+1)
		}
		if other, seen := messages[code.Error()]; seen || code.Error() == Code(999).Error() {
			t.Fatalf("codes %d and %d share the message %q", other, code, code.Error())
		}
		messages[code.Error()] = code
		wrapped := error(&Error{Code: code, Detail: "detail"})
		if !errors.Is(wrapped, code) || (code != ErrTimeout && errors.Is(wrapped, ErrTimeout)) {
			t.Fatalf("errors.Is does not single out %d", code)
		}
		if code.RetryLater() != (code == ErrQueueFull || code == ErrShuttingDown || code == ErrAlreadyJoined) {
			t.Fatalf("RetryLater(%d)", code)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	policy := DefaultPolicy()
	if policy.MinThreshold != 2 || policy.MinSurvivors != 3 || policy.RequireActiveMode || policy.MinLocalNoiseVariance != 0 {
		t.Fatalf("default policy %+v", policy)
	}
	policy.MinLocalNoiseVariance = 2.5
	raw, err := policy.c()
	if err != nil || float64(raw.min_local_noise_variance) != 2.5 || raw.min_survivors != 3 {
		t.Fatalf("policy in C: %+v, %v", raw, err)
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	identity, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	defer identity.Close()
	seed, err := identity.Seed()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.PublicKey()
	again, err := IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if key2, _ := again.PublicKey(); !bytes.Equal(key, key2) {
		t.Fatal("the seed does not give back the same key")
	}
	path := filepath.Join(t.TempDir(), "go.key")
	if err := identity.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := identity.Save(path); !errors.Is(err, ErrIO) {
		t.Fatalf("overwriting an identity: %v, want ErrIO", err)
	}
	loaded, err := LoadIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if key3, _ := loaded.PublicKey(); !bytes.Equal(key, key3) {
		t.Fatal("the file does not give back the same key")
	}
	if _, err := IdentityFromSeed(seed[:31]); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("short seed: %v, want ErrInvalidArgument", err)
	}
	if _, err := LoadIdentity(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrIO) {
		t.Fatalf("missing file: %v, want ErrIO", err)
	}
	closed, _ := GenerateIdentity()
	closed.Close()
	closed.Close()
	if _, err := closed.PublicKey(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("closed identity: %v, want ErrInvalidArgument", err)
	}
}

func TestParticipateFailures(t *testing.T) {
	identity, _ := GenerateIdentity()
	defer identity.Close()
	key, _ := identity.PublicKey()
	closedPort := Coordinator{Host: "127.0.0.1", Port: 1, PublicKey: key}

	_, err := Participate(context.Background(), identity, closedPort, "t", []uint64{1}, &Options{ConnectAttempts: 2})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed port: %v, want ErrUnreachable", err)
	}
	var failure *Error
	if !errors.As(err, &failure) || failure.Detail == "" {
		t.Fatalf("no detail in %v", err)
	}
	if _, err := Participate(context.Background(), nil, closedPort, "t", []uint64{1}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil identity: %v, want ErrInvalidArgument", err)
	}
	bad := Coordinator{Host: "127.0.0.1", Port: 1, PublicKey: key[:5]}
	if _, err := Participate(context.Background(), identity, bad, "t", []uint64{1}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("short key: %v, want ErrInvalidArgument", err)
	}

	// A context deadline cancels the blocking call from another goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Participate(ctx, identity, closedPort, "t", []uint64{1}, &Options{ConnectAttempts: 1000})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v, want ErrCancelled and DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancellation took %v", time.Since(start))
	}
}

func TestClientRejectsBadMessage(t *testing.T) {
	identity, _ := GenerateIdentity()
	defer identity.Close()
	client, err := NewClient(identity, []uint64{1, 2, 3}, nil, "histogram")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	join, err := client.NextMessage()
	if err != nil || !bytes.Contains(join, []byte("histogram")) {
		t.Fatalf("join request %x, %v", join, err)
	}
	if next, _ := client.NextMessage(); next != nil {
		t.Fatalf("unexpected second message %x", next)
	}
	if phase, _ := client.Phase(); phase != PhaseNone {
		t.Fatalf("phase %d", phase)
	}
	if _, finished := client.Receipt(); finished {
		t.Fatal("finished before any answer")
	}
	if err := client.Handle([]byte{0xff, 0, 1}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad message: %v, want ErrProtocol", err)
	}
	receipt, finished := client.Receipt()
	if !finished || receipt.Outcome != OutcomeAborted || receipt.AbortCode != 0x0204 {
		t.Fatalf("receipt %+v", receipt)
	}
	if err := client.Handle([]byte{1}); !errors.Is(err, ErrState) {
		t.Fatalf("after the end: %v, want ErrState", err)
	}
}

// world is a coordinator with enrolled clients in a temporary folder.
type world struct {
	t              *testing.T
	bin            string
	dir            string
	coordinatorKey string
	daemon         *exec.Cmd
	port           int
}

func newWorld(t *testing.T) *world {
	bin := os.Getenv("SECAGG_BIN_DIR")
	if bin == "" {
		t.Skip("SECAGG_BIN_DIR (the folder with secagg and secaggd) is not set")
	}
	w := &world{t: t, bin: bin, dir: t.TempDir()}
	w.coordinatorKey = w.keygen("coordinator")
	return w
}

func (w *world) keygen(name string) string {
	out, err := exec.Command(filepath.Join(w.bin, "secagg"), "keygen", "--out", filepath.Join(w.dir, name+".key")).Output()
	if err != nil {
		w.t.Fatalf("keygen %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func (w *world) startDaemon(enrolled []string, task string) {
	os.WriteFile(filepath.Join(w.dir, "enrolled.txt"), []byte(strings.Join(enrolled, "\n")+"\n"), 0o644)
	config := fmt.Sprintf(`listen: {host: 127.0.0.1, port: 0}
identity: coordinator.key
enrollment: {file: enrolled.txt}
results_directory: results
tasks:
  - name: %s
    dimension: 4
    max_input: 1000
    graph: complete
    min_clients: 4
    max_clients: 4
    rounds: 1
    gather_seconds: 0.2
    timeouts: {advertise: 20, share: 20, masked: 20, unmask: 20}
`, task)
	os.WriteFile(filepath.Join(w.dir, "secaggd.yaml"), []byte(config), 0o644)
	logPath := filepath.Join(w.dir, "secaggd.log")
	log, _ := os.Create(logPath)
	w.daemon = exec.Command(filepath.Join(w.bin, "secaggd"), "--config", filepath.Join(w.dir, "secaggd.yaml"))
	w.daemon.Stdout, w.daemon.Stderr = log, log
	if err := w.daemon.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { w.daemon.Process.Kill(); w.daemon.Wait() })
	pattern := regexp.MustCompile(`address=127\.0\.0\.1:(\d+)`)
	for attempt := 0; attempt < 200; attempt++ {
		text, _ := os.ReadFile(logPath)
		if match := pattern.FindSubmatch(text); match != nil {
			w.port, _ = strconv.Atoi(string(match[1]))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	text, _ := os.ReadFile(logPath)
	w.t.Fatalf("secaggd did not start:\n%s", text)
}

func (w *world) startSwiftClient(name, task string, input []uint64) *exec.Cmd {
	values := make([]string, len(input))
	for index, value := range input {
		values[index] = strconv.FormatUint(value, 10)
	}
	inputPath := filepath.Join(w.dir, name+".json")
	os.WriteFile(inputPath, []byte("["+strings.Join(values, ",")+"]"), 0o644)
	command := exec.Command(filepath.Join(w.bin, "secagg"), "participate",
		"--coordinator", fmt.Sprintf("127.0.0.1:%d", w.port), "--coordinator-key", w.coordinatorKey,
		"--identity", filepath.Join(w.dir, name+".key"), "--task", task, "--input", inputPath, "--connect-attempts", "20")
	if err := command.Start(); err != nil {
		w.t.Fatal(err)
	}
	return command
}

// TestRoundWithSwiftClients runs one round of secaggd with three `secagg participate` processes and this Go
// client, and checks that the released sum includes the Go client's vector.
func TestRoundWithSwiftClients(t *testing.T) {
	w := newWorld(t)
	const task = "go-round"
	identity, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	defer identity.Close()
	goKey, _ := identity.PublicKeyHex()
	enrolled := []string{goKey}
	for index := 0; index < 3; index++ {
		enrolled = append(enrolled, w.keygen(fmt.Sprintf("swift-%d", index)))
	}
	w.startDaemon(enrolled, task)

	// Before the round: a wrong pinned key fails the handshake, an unknown task is refused.
	coordinatorKey, _ := hex.DecodeString(w.coordinatorKey)
	address := Coordinator{Host: "127.0.0.1", Port: uint16(w.port), PublicKey: coordinatorKey}
	impostor, _ := identity.PublicKey()
	wrongKey := Coordinator{Host: "127.0.0.1", Port: uint16(w.port), PublicKey: impostor}
	if _, err := Participate(context.Background(), identity, wrongKey, task, []uint64{1, 2, 3, 4}, nil); !errors.Is(err, ErrHandshake) {
		t.Fatalf("wrong coordinator key: %v, want ErrHandshake", err)
	}
	if _, err := Participate(context.Background(), identity, address, "no-such-task", []uint64{1, 2, 3, 4}, nil); !errors.Is(err, ErrUnknownTask) {
		t.Fatalf("unknown task: %v, want ErrUnknownTask", err)
	}
	stranger, _ := GenerateIdentity()
	defer stranger.Close()
	_, err = Participate(context.Background(), stranger, address, task, []uint64{1, 2, 3, 4}, nil)
	if !errors.Is(err, ErrNotEnrolled) || errors.Is(err, ErrConnectionLost) {
		t.Fatalf("unenrolled identity: %v, want ErrNotEnrolled", err)
	}

	inputs := [][]uint64{{1, 10, 100, 7}, {2, 11, 101, 7}, {3, 12, 102, 7}}
	var swift []*exec.Cmd
	for index, input := range inputs {
		swift = append(swift, w.startSwiftClient(fmt.Sprintf("swift-%d", index), task, input))
	}
	goInput := []uint64{500, 600, 700, 800}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	receipt, err := Participate(ctx, identity, address, task, goInput, &Options{ConnectAttempts: 20})
	if err != nil {
		t.Fatal(err)
	}
	if receipt.Outcome != OutcomeCompleted || receipt.Survivors != 4 || len(receipt.RoundID) != RoundIDBytes {
		t.Fatalf("receipt %+v", receipt)
	}
	for _, command := range swift {
		if err := command.Wait(); err != nil {
			t.Fatalf("swift client: %v", err)
		}
	}
	if err := w.daemon.Wait(); err != nil {
		t.Fatalf("secaggd: %v", err)
	}

	text, err := os.ReadFile(filepath.Join(w.dir, "results", task, hex.EncodeToString(receipt.RoundID)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var result struct {
		Outcome   string   `json:"outcome"`
		Sum       []uint64 `json:"sum"`
		Survivors []string `json:"survivor_identities"`
	}
	if err := json.Unmarshal(text, &result); err != nil {
		t.Fatal(err)
	}
	want := append([]uint64(nil), goInput...)
	for _, input := range inputs {
		for index, value := range input {
			want[index] += value
		}
	}
	if result.Outcome != "completed" || fmt.Sprint(result.Sum) != fmt.Sprint(want) {
		t.Fatalf("released %s %v, want completed %v", result.Outcome, result.Sum, want)
	}
	found := false
	for _, survivor := range result.Survivors {
		found = found || survivor == goKey
	}
	if !found {
		t.Fatalf("the Go client %s is not among the survivors %v", goKey, result.Survivors)
	}
}
