// SPDX-License-Identifier: Apache-2.0
// OpenSSL's libcrypto, for AES-256-GCM with a context kept per key (swift-crypto sets a key up on every call).
// Only TotemTransport imports this module.
#include <openssl/evp.h>
