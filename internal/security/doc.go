// Package security holds the primitives both services rely on for identity:
// password hashing (argon2id, plus verification of the original system's
// passlib pbkdf2-sha512 hashes), Ed25519 access tokens with their JWKS,
// verification of Google ID tokens, and signed URLs for locally stored files.
//
// Nothing here reads the environment or touches the database: callers pass
// settings in and decide what a failure means for their route.
package security
