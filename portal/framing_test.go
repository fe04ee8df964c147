package portal

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConflictingContentLength: a request whose framing two parsers could
// read differently (two Content-Length values, or Content-Length beside
// Transfer-Encoding) is refused with 400 and the connection closed, so
// nothing after it on the connection is read as another request (RFC 9112
// §6.3: "the server MUST respond with a 400 (Bad Request) status code and
// then close the connection"). fasthttp took the last Content-Length and
// served the bytes after it as a second request: a front proxy that took
// the first would have let a request through unseen.
func TestConflictingContentLength(t *testing.T) {
	env := newTestEnv(t, Config{})
	base := env.serve(t)
	addr := strings.TrimPrefix(base, "http://")
	smuggled := "GET /healthz HTTP/1.1\r\nHost: portal\r\n\r\n"
	cases := []struct {
		name    string
		headers string
		body    string
		want    []int // statuses of the responses on the connection
	}{
		{"two different lengths", "Content-Length: 44\r\nContent-Length: 0\r\n", smuggled, []int{400}},
		{"two different lengths, first short", "Content-Length: 0\r\nContent-Length: 44\r\n", smuggled, []int{400}},
		{"a list of different lengths", "Content-Length: 0, 44\r\n", smuggled, []int{400}},
		{"length and chunked", "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled, []int{400}},
		{"one length", "Content-Length: 0\r\n", smuggled, []int{403, 200}}, // the CSRF refusal, then the next request
		{"the same length twice", "Content-Length: 0\r\nContent-Length: 0\r\n", smuggled, []int{403, 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			req := "POST /connect HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\n" + tc.headers + "\r\n" + tc.body
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			var got []int
			for {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					break // EOF: the server closed the connection, or the deadline
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got = append(got, resp.StatusCode)
				if resp.Close || len(got) == len(tc.want) {
					break
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || (len(got) > 1 && got[1] != tc.want[1]) {
				t.Errorf("responses %v, want %v", got, tc.want)
			}
			if tc.want[0] == 400 {
				// Closed after the 400: nothing more is read or answered.
				if _, err := r.ReadByte(); err != io.EOF {
					t.Errorf("connection still open after the 400: %v", err)
				}
			}
		})
	}
	// fasthttp refuses the list itself (its Content-Length does not
	// parse); the other three are counted.
	if got := env.srv.Stats().BadFraming; got != 3 {
		t.Errorf("BadFraming = %d, want 3", got)
	}
}
