// Command sfuload sweeps SFU load: N publishers and M subscribers on
// loopback, E2EE-sized opaque payloads at video rates, for Tresor's SFU and
// for pion's bare broadcast loop as a baseline. For each point it prints
// delivered packets/s, server CPU-µs per delivered packet (getrusage of the
// server process; the peers run in a child process), allocations per
// delivered packet, live heap per subscriber and latency: end to end, added
// by the server (kernel receipt on the server's socket to the send of the
// last copy), per copy (kernel receipt on the subscriber's socket minus the
// publisher's send time) and, for the SFU, its fan-out; see
// sfu/loadtest/README.md. With -repeat the modes are interleaved and medians
// of CPU and added p99 are printed.
//
// Publishers send each frame's packets back to back, as pion does; -paced
// spreads them out the way a browser's pacer does. On Linux, -server-cpus
// and -peer-cpus pin the server and the peers to different CPUs, so that
// the peers (which stand for other machines) do not compete with the
// server for them.
//
//	go run ./cmd/sfuload -subs 10,50,100 -pubs 1 -seconds 10
//	go run ./cmd/sfuload -pubs 1 -subs 50 -seconds 10 -repeat 3
//	go run ./cmd/sfuload -pubs 1 -subs 50 -paced
//	go run ./cmd/sfuload -pubs 1 -subs 50 -server-cpus 1 -peer-cpus 0 -procs 1
//	go run ./cmd/sfuload -mode sfu -pubs 4 -subs 25 -bitrate 2000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/loadtest"
)

func main() {
	var (
		peerProcess = flag.Bool("peer-process", false, "internal: run the load peers on stdin/stdout")
		mode        = flag.String("mode", "both", "server: sfu, bare or both")
		pubs        = flag.String("pubs", "1", "comma-separated publisher counts")
		subs        = flag.String("subs", "10,50", "comma-separated subscriber counts")
		bitrate     = flag.Int("bitrate", 1_000_000, "bits/s per publisher")
		payload     = flag.Int("payload", 1100, "RTP payload bytes (SFrame ciphertext size)")
		fps         = flag.Int("fps", 30, "frames per second")
		seconds     = flag.Float64("seconds", 10, "measured media duration per point")
		paced       = flag.Bool("paced", false, "spread each frame's packets out at 2.5× the bitrate, as a sender's pacer does (default: back to back)")
		noBatch     = flag.Bool("no-batch", false, "SFU: disable sendmmsg write batching")
		repeat      = flag.Int("repeat", 1, "runs per point, modes interleaved; medians are reported")
		procs       = flag.Int("procs", 0, "GOMAXPROCS of the server process (0: Go's default); the peer process keeps the default")
		peerNice    = flag.Int("peer-nice", 0, "run the peer process at this nice(1) level, so that it competes less with the server for the CPUs (peers on other machines)")
		serverCPUs  = flag.String("server-cpus", "", "pin the server process to these CPUs (Linux; e.g. 1 or 2-3), so that it does not share them with the peers")
		peerCPUs    = flag.String("peer-cpus", "", "pin the peer process to these CPUs (Linux; e.g. 0)")
	)
	flag.Parse()
	if *peerProcess {
		if *peerCPUs != "" {
			if err := pinProcess(*peerCPUs); err != nil {
				log.Fatal(err)
			}
		}
		if err := loadtest.PeersMain(os.Stdin, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *serverCPUs != "" {
		if err := pinProcess(*serverCPUs); err != nil {
			log.Fatal(err)
		}
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	modes := []loadtest.Mode{loadtest.ModeSFU, loadtest.ModeBarePion}
	switch *mode {
	case "sfu":
		modes = modes[:1]
	case "bare":
		modes = modes[1:]
	case "both":
	default:
		log.Fatalf("sfuload: unknown mode %q", *mode)
	}
	pubCounts, err := ints(*pubs)
	if err != nil {
		log.Fatal(err)
	}
	subCounts, err := ints(*subs)
	if err != nil {
		log.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	perFrame := max(1, *bitrate/8 / *fps / *payload)
	packets := int(*seconds * float64(perFrame**fps))
	for _, np := range pubCounts {
		for _, ns := range subCounts {
			cpu := map[loadtest.Mode][]float64{}
			p99 := map[loadtest.Mode][]float64{}
			for range max(*repeat, 1) {
				for _, m := range modes {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
					res, err := loadtest.Run(ctx, loadtest.Config{Mode: m, Publishers: np, Subscribers: ns, BitrateBps: *bitrate,
						Payload: *payload, FPS: *fps, Packets: packets, Paced: *paced, SFU: sfu.Config{DisableWriteBatching: *noBatch},
						Command: func() *exec.Cmd {
							args := []string{exe, "-peer-process", "-peer-cpus", *peerCPUs}
							if *peerNice != 0 {
								args = append([]string{"nice", "-n", strconv.Itoa(*peerNice)}, args...)
							}
							cmd := exec.Command(args[0], args[1:]...)
							cmd.Stderr = os.Stderr
							return cmd
						}})
					cancel()
					if err != nil {
						log.Fatalf("sfuload: %s pubs=%d subs=%d: %v", m, np, ns, err)
					}
					fmt.Println(res)
					cpu[m] = append(cpu[m], res.CPUMicrosPerPacket)
					p99[m] = append(p99[m], res.AddedP99Ms)
				}
			}
			for _, m := range modes {
				fmt.Printf("pubs=%d subs=%d %s median added latency p99 %.2fms\n", np, ns, m, median(p99[m]))
			}
			if len(modes) == 2 {
				a, b := median(cpu[loadtest.ModeSFU]), median(cpu[loadtest.ModeBarePion])
				fmt.Printf("pubs=%d subs=%d median cpu: sfu %.2fµs/pkt, bare %.2fµs/pkt, ratio %.2f (%d runs each)\n",
					np, ns, a, b, a/b, len(cpu[loadtest.ModeSFU]))
			}
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("sfuload: bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
