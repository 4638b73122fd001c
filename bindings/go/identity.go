package secagg

/*
#include <stdlib.h>
#include "secagg.h"
*/
import "C"

import (
	"encoding/hex"
	"runtime"
	"unsafe"
)

// Identity is a client's Ed25519 key pair (it signs protocol messages and authenticates the transport).
// Close it when done; its secret is wiped then.
type Identity struct {
	handle *C.secagg_identity
}

func newIdentity(handle *C.secagg_identity) *Identity {
	identity := &Identity{handle: handle}
	runtime.SetFinalizer(identity, (*Identity).Close)
	return identity
}

// raw is the C handle, or NULL for a nil or closed identity (the library then reports ErrInvalidArgument).
func (i *Identity) raw() *C.secagg_identity {
	if i == nil {
		return nil
	}
	return i.handle
}

// GenerateIdentity returns a new identity from libsodium's CSPRNG.
func GenerateIdentity() (*Identity, error) {
	var handle *C.secagg_identity
	if err := check(C.secagg_identity_generate(&handle), ""); err != nil {
		return nil, err
	}
	return newIdentity(handle), nil
}

// IdentityFromSeed returns the identity with the given 32-byte seed.
func IdentityFromSeed(seed []byte) (*Identity, error) {
	var handle *C.secagg_identity
	if err := check(C.secagg_identity_from_seed(&handle, bytePointer(seed), C.size_t(len(seed))), ""); err != nil {
		return nil, err
	}
	return newIdentity(handle), nil
}

// LoadIdentity reads an identity file (secagg-identity-v1, mode 0600), as `secagg keygen` writes.
func LoadIdentity(path string) (*Identity, error) {
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	var handle *C.secagg_identity
	if err := check(C.secagg_identity_load(&handle, cPath), path); err != nil {
		return nil, err
	}
	return newIdentity(handle), nil
}

// Save writes the identity to a new file (mode 0600); it never overwrites a file.
func (i *Identity) Save(path string) error {
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	err := check(C.secagg_identity_save(i.raw(), cPath), path)
	runtime.KeepAlive(i)
	return err
}

// Seed returns a copy of the 32-byte secret seed.
func (i *Identity) Seed() ([]byte, error) {
	seed := make([]byte, SeedBytes)
	err := check(C.secagg_identity_seed(bytePointer(seed), C.size_t(len(seed)), i.raw()), "")
	runtime.KeepAlive(i)
	if err != nil {
		return nil, err
	}
	return seed, nil
}

// PublicKey returns the 32-byte Ed25519 public key, the one a coordinator enrolls.
func (i *Identity) PublicKey() ([]byte, error) {
	key := make([]byte, PublicKeyBytes)
	err := check(C.secagg_identity_public_key(bytePointer(key), C.size_t(len(key)), i.raw()), "")
	runtime.KeepAlive(i)
	if err != nil {
		return nil, err
	}
	return key, nil
}

// PublicKeyHex returns the public key as 64 lowercase hex digits (the enrollment file format).
func (i *Identity) PublicKeyHex() (string, error) {
	key, err := i.PublicKey()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(key), nil
}

// Close releases the identity and wipes its secret. Calling it again does nothing.
func (i *Identity) Close() error {
	if i.handle != nil {
		C.secagg_identity_free(i.handle)
		i.handle = nil
		runtime.SetFinalizer(i, nil)
	}
	return nil
}
