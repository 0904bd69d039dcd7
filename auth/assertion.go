package auth

// Key assertions (not yet implemented).
//
// The backend will vouch for a participant's MLS signature key here, with a
// function beside [MintToken] (MintAssertion) and its verifier: a signed
// statement binding an identity to the public key of its MLS leaf, which
// members check before they accept a leaf (DESIGN.md, "Join" and "Security
// code"). Two rules for it, so that it cannot be confused with a join token:
//
//   - its own text prefix (not "tj1.") and its own signature context
//     string (not tokenContext), so that neither kind of signed object
//     verifies as the other under the same backend key;
//   - the same identity rules as [Claims] ([ValidIdentity]).
