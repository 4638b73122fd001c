"""The C ABI of secagg.h (version 2) declared with ctypes, and how the library is found.

Every structure mirrors the header field by field; the sizes are checked against the C layout when the library
is loaded. Nothing here is public API: use the names the package exports.
"""

import ctypes
import os
import subprocess
import threading

ABI_VERSION = 2
SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
ROUND_ID_BYTES = 16
MESSAGE_BYTES = 256

OUTCOME_NONE = 0
OUTCOME_COMPLETED = 1
OUTCOME_ABORTED = 2

# The file names the library is installed under: the SONAME (ABI version) first, then the development link.
LIBRARY_NAMES = ("libsecaggc.so.%d" % ABI_VERSION, "libsecaggc.so")


class Receipt(ctypes.Structure):
    _fields_ = [
        ("outcome", ctypes.c_int32),
        ("survivors", ctypes.c_uint32),
        ("participant", ctypes.c_uint32),
        ("abort_code", ctypes.c_uint16),
        ("has_round_id", ctypes.c_uint8),
        ("has_participant", ctypes.c_uint8),
        ("round_id", ctypes.c_uint8 * ROUND_ID_BYTES),
        ("message", ctypes.c_char * MESSAGE_BYTES),
    ]


class Policy(ctypes.Structure):
    _fields_ = [
        ("min_threshold", ctypes.c_uint32),
        ("min_survivors", ctypes.c_uint32),
        ("require_active_mode", ctypes.c_uint32),
        ("has_enrollment_authority", ctypes.c_uint32),
        ("enrollment_authority", ctypes.c_uint8 * PUBLIC_KEY_BYTES),
        ("min_local_noise_variance", ctypes.c_double),
    ]


class ParticipateOptions(ctypes.Structure):
    _fields_ = [
        ("connect_attempts", ctypes.c_uint32),
        ("handshake_timeout_ms", ctypes.c_uint32),
        ("admission_timeout_ms", ctypes.c_uint32),
        ("idle_timeout_ms", ctypes.c_uint32),
        ("total_timeout_ms", ctypes.c_uint32),
    ]


# The C layout (secagg.h has no padding in any structure; bindings/c/test asserts the same sizes).
_SIZES = {Receipt: 288, Policy: 56, ParticipateOptions: 20}

_handle = ctypes.c_void_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_bytes = ctypes.POINTER(ctypes.c_uint8)

# name: (result type, argument types)
_FUNCTIONS = {
    "secagg_abi_version": (_int, []),
    "secagg_version": (ctypes.c_char_p, []),
    "secagg_strerror": (ctypes.c_char_p, [_int]),
    "secagg_identity_generate": (_int, [ctypes.POINTER(_handle)]),
    "secagg_identity_from_seed": (_int, [ctypes.POINTER(_handle), _bytes, _size]),
    "secagg_identity_load": (_int, [ctypes.POINTER(_handle), ctypes.c_char_p]),
    "secagg_identity_save": (_int, [_handle, ctypes.c_char_p]),
    "secagg_identity_seed": (_int, [_bytes, _size, _handle]),
    "secagg_identity_public_key": (_int, [_bytes, _size, _handle]),
    "secagg_identity_free": (None, [_handle]),
    "secagg_client_policy_default": (_int, [ctypes.POINTER(Policy)]),
    "secagg_cancel_create": (_int, [ctypes.POINTER(_handle)]),
    "secagg_cancel_trigger": (None, [_handle]),
    "secagg_cancel_free": (None, [_handle]),
    "secagg_participate_options_default": (_int, [ctypes.POINTER(ParticipateOptions)]),
    "secagg_participate": (
        _int,
        [
            ctypes.POINTER(Receipt), _handle, ctypes.c_char_p, ctypes.c_uint16, _bytes, _size, ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_uint64), _size, ctypes.POINTER(Policy), ctypes.POINTER(ParticipateOptions),
            _handle,
        ],
    ),
}


class LibraryNotFoundError(OSError):
    """libsecaggc could not be loaded from any of the places searched (the message lists them)."""


def _pkg_config_libdir():
    """The libdir of the `secagg` pkg-config package, or None (no pkg-config, or no secagg.pc on its path)."""
    try:
        result = subprocess.run(
            ["pkg-config", "--variable=libdir", "secagg"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = result.stdout.decode("utf-8", "replace").strip()
    return libdir if result.returncode == 0 and libdir else None


def _candidates():
    """(description, path or name) pairs in search order: SECAGG_LIBRARY, pkg-config, the dynamic loader."""
    explicit = os.environ.get("SECAGG_LIBRARY")
    if explicit:
        # A file, or a folder holding the library: nothing else is tried, so a wrong setting is never hidden.
        if os.path.isdir(explicit):
            return [("SECAGG_LIBRARY", os.path.join(explicit, name)) for name in LIBRARY_NAMES]
        return [("SECAGG_LIBRARY", explicit)]
    found = []
    libdir = _pkg_config_libdir()
    if libdir:
        found += [("pkg-config secagg", os.path.join(libdir, name)) for name in LIBRARY_NAMES]
    found += [("the dynamic loader's path", name) for name in LIBRARY_NAMES]
    return found


def _load():
    tried = []
    for origin, path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (%s): no such file" % (path, origin))
            continue
        try:
            library = ctypes.CDLL(path)
        except OSError as error:
            tried.append("%s (%s): %s" % (path, origin, error))
            continue
        for name, (restype, argtypes) in _FUNCTIONS.items():
            function = getattr(library, name)
            function.restype = restype
            function.argtypes = argtypes
        abi = library.secagg_abi_version()
        if abi != ABI_VERSION:
            raise LibraryNotFoundError(
                "%s implements C ABI version %d; this package needs version %d" % (path, abi, ABI_VERSION))
        return library
    if not os.environ.get("SECAGG_LIBRARY") and _pkg_config_libdir() is None:
        tried.append("pkg-config: no package secagg (set PKG_CONFIG_PATH to the folder with secagg.pc)")
    raise LibraryNotFoundError(
        "libsecaggc not found; set SECAGG_LIBRARY to its path, or make `pkg-config secagg` find it. Tried:\n  "
        + "\n  ".join(tried))


_lock = threading.Lock()
_library = None


def library():
    """The loaded library (loaded on first use)."""
    global _library
    with _lock:
        if _library is None:
            for structure, size in _SIZES.items():
                if ctypes.sizeof(structure) != size:
                    raise LibraryNotFoundError(
                        "%s is %d bytes here, %d in C" % (structure.__name__, ctypes.sizeof(structure), size))
            _library = _load()
        return _library


def byte_buffer(data):
    """A C array holding `data` (bytes), for a (pointer, length) argument."""
    return (ctypes.c_uint8 * len(data)).from_buffer_copy(data) if data else None
