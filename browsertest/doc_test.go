// Package browsertest drives Debian's Chromium, headless, from Go tests with
// chromedp: the browser client (web/) runs the audited keys and e2ee packages
// compiled to WebAssembly, and these tests check it against the Go packages
// and against real WebRTC media.
//
// The browser is /usr/bin/chromium (or $TRESOR_CHROMIUM). `make deps`
// installs it. When it is missing the tests skip, except in CI (CI=true),
// where a missing browser fails them.
package browsertest
