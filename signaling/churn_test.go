package signaling

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestChurn runs many clients joining, chatting, uploading KeyPackages and
// leaving at once while a host admits and removes, and checks that the
// server ends empty with no goroutine left behind.
func TestChurn(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := newEnv(t, Config{CommitTimeout: 50 * time.Millisecond})
		e.room("r", RoomConfig{WaitingRoom: true})
		host := e.dial("r", "host", RoleHost)
		if err := host.UploadKeyPackage(ctx(t), []byte("kp")); err != nil {
			t.Fatal(err)
		}
		// The host admits whoever waits, and commits whatever it is asked.
		stop := make(chan struct{})
		var hostDone sync.WaitGroup
		admitted := make(map[string]bool)
		hostDone.Go(func() {
			for {
				select {
				case <-stop:
					return
				case ev, ok := <-host.Events():
					if !ok {
						return
					}
					c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					switch ev := ev.(type) {
					case StateChanged:
						for _, w := range ev.State.Waiting {
							if !admitted[w.Identity] {
								admitted[w.Identity] = true
								if err := host.Admit(c, w.Identity); err != nil {
									t.Errorf("admit %s: %v", w.Identity, err)
								}
							}
						}
					case CommitRequested:
						ids := make([]uint64, len(ev.Proposals))
						adds := false
						for i, p := range ev.Proposals {
							ids[i] = p.ID
							adds = adds || p.Kind == ProposalAdd
						}
						var w []byte
						if adds {
							w = []byte("w")
						}
						host.SendCommit(c, Commit{Epoch: ev.Epoch, Proposals: ids, Data: []byte("c"), Welcome: w})
					}
					cancel()
				}
			}
		})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				id := fmt.Sprint("p", i)
				// Each from its own address, as people are.
				c, err := e.dialErr("r", id, RoleParticipant, WithHTTPHeader(http.Header{"X-Test-Addr": {fmt.Sprint("10.1.0.", i)}}))
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				deadline := time.After(5 * time.Second)
				for admitted := false; !admitted; {
					select {
					case ev := <-c.Events():
						_, admitted = ev.(Joined)
					case <-deadline:
						t.Errorf("%s not admitted", id)
						return
					}
				}
				cx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				c.UploadKeyPackage(cx, []byte("kp-"+id))
				c.SendChat(cx, 0, []byte("hi"))
				if i%4 == 0 {
					host.Remove(cx, id)
				}
				if i%2 == 0 {
					c.Leave(cx)
				}
			})
		}
		wg.Wait()
		close(stop)
		hostDone.Wait()
		host.Close()
		deadline := time.Now().Add(5 * time.Second)
		for st := e.srv.Stats(); st.Rooms != 0 || st.Participants != 0 || st.Waiting != 0 || st.Connections != 0 || st.PendingConnections != 0; st = e.srv.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("server not empty: %+v", st)
			}
			time.Sleep(10 * time.Millisecond)
		}
		e.srv.Close(context.Background())
		e.hs.Close()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
