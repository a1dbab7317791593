// SPDX-License-Identifier: Apache-2.0
import CLibcrypto

/// AES-256-GCM under one key, with OpenSSL's cipher context set up once and kept: each packet then costs only its
/// nonce, the cipher and the tag. (swift-crypto's `AES.GCM` expands the key and allocates on every call: about 3 µs a
/// packet on this machine class, where this takes 0.4–0.9 µs at 100–1,400 bytes; `docs/benchmarks.md`.)
///
/// The output is plain AES-256-GCM (96-bit nonce, 128-bit tag), byte for byte what any implementation produces.
/// A context seals or opens, never both. One owner: the daemon's event loop (the context is mutable state).
final class AESGCM: @unchecked Sendable {
    enum Direction { case seal, open }

    static let keyBytes = 32
    static let nonceBytes = 12
    static let tagBytes = 16

    let direction: Direction
    private let context: OpaquePointer

    /// A context for `key` (32 bytes). Traps only when OpenSSL cannot allocate or does not know AES-256-GCM.
    init(key: UnsafeRawBufferPointer, direction: Direction) {
        precondition(key.count == Self.keyBytes, "AES-256 takes a 32-byte key")
        guard let context = EVP_CIPHER_CTX_new() else { preconditionFailure("libcrypto: EVP_CIPHER_CTX_new failed") }
        let keyBytes = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let ready = direction == .seal
            ? EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, keyBytes, nil)
            : EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, keyBytes, nil)
        guard ready == 1 else { preconditionFailure("libcrypto: AES-256-GCM unavailable") }
        self.context = context
        self.direction = direction
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `plaintext` into `ciphertext` (as many bytes) and writes the tag to `tag`, authenticating `aad` too.
    func seal(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
              ciphertext: UnsafeMutableRawPointer, tag: UnsafeMutableRawPointer) {
        precondition(direction == .seal && nonce.count == Self.nonceBytes)
        var written: Int32 = 0, final: Int32 = 0
        let out = ciphertext.assumingMemoryBound(to: UInt8.self)
        // With a 12-byte nonce and a set key, none of these can fail; a failure would mean a broken libcrypto.
        guard EVP_EncryptInit_ex(context, nil, nil, nil, Self.bytes(nonce)) == 1,
              aad.isEmpty || EVP_EncryptUpdate(context, nil, &written, Self.bytes(aad), Int32(aad.count)) == 1,
              plaintext.isEmpty || EVP_EncryptUpdate(context, out, &written, Self.bytes(plaintext), Int32(plaintext.count)) == 1,
              EVP_EncryptFinal_ex(context, out + (plaintext.isEmpty ? 0 : Int(written)), &final) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagBytes), tag) == 1
        else { preconditionFailure("libcrypto: AES-256-GCM sealing failed") }
    }

    /// Decrypts `ciphertext` into `plaintext` (as many bytes) if `tag` authenticates it and `aad`; false otherwise
    /// (then `plaintext` holds nothing to use).
    func open(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer,
              tag: UnsafeRawBufferPointer, plaintext: UnsafeMutableRawPointer) -> Bool {
        precondition(direction == .open && nonce.count == Self.nonceBytes)
        guard tag.count == Self.tagBytes else { return false }
        var written: Int32 = 0, final: Int32 = 0
        let out = plaintext.assumingMemoryBound(to: UInt8.self)
        guard EVP_DecryptInit_ex(context, nil, nil, nil, Self.bytes(nonce)) == 1,
              aad.isEmpty || EVP_DecryptUpdate(context, nil, &written, Self.bytes(aad), Int32(aad.count)) == 1,
              ciphertext.isEmpty || EVP_DecryptUpdate(context, out, &written, Self.bytes(ciphertext), Int32(ciphertext.count)) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagBytes), UnsafeMutableRawPointer(mutating: tag.baseAddress!)) == 1
        else { return false }
        return EVP_DecryptFinal_ex(context, out + (ciphertext.isEmpty ? 0 : Int(written)), &final) == 1
    }

    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }
}
