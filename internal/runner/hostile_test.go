package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/itss-go/itss/internal/itss"
)

var hexName = regexp.MustCompile(`[0-9a-f]{32}`)

// hostile is one program that attacks the sandbox. Every case asserts
// containment (check), that the runner still works, and that nothing of
// the run is left: no process, no cgroup.
type hostile struct {
	name  string
	lang  string
	need  string // "", "bwrap" or "cgroup": isolation without which the case is unsafe to run
	src   string
	stdin string
	check func(t *testing.T, res Result)
}

// sleepMarker returns a unique argument for /bin/sleep, so a test can look
// for surviving processes by command line.
func sleepMarker() string {
	return fmt.Sprintf("%d.%09d", 500+rand.IntN(400), rand.IntN(1e9))
}

func TestHostilePrograms(t *testing.T) {
	t.Parallel()
	// A runner of its own, so that once every case has finished its root
	// and cgroups can be checked for anything left behind.
	r := newRunner(t, Options{Workers: 2, Queue: 1000, Limits: Limits{CPUTime: 2 * time.Second}})
	t.Cleanup(func() {
		assertRootEmpty(t, r)
		if cg := r.sb.cg; cg != nil {
			for _, base := range []string{cg.memBase, cg.pidsBase} {
				if jobs, _ := filepath.Glob(filepath.Join(base, "job-*")); len(jobs) > 0 {
					t.Errorf("cgroups left in %s: %v", base, jobs)
				}
			}
		}
	})

	// A fake service installation the programs try to reach.
	svc := t.TempDir()
	secret := "SECRET-" + randomName()
	for name, content := range map[string]string{
		".env":                       "APP_SECRET_KEY=" + secret + "\n",
		"data/itss.db":               "SQLite format 3\x00" + secret,
		"data/keys/jwt.pem":          "-----BEGIN PRIVATE KEY-----\n" + secret,
		"storage/recordings/x/a.txt": secret,
	} {
		p := filepath.Join(svc, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, _ := os.Getwd()
	// An abstract unix socket on the host: abstract names belong to the
	// network namespace, so a sandbox must not reach it.
	abstract := "itss-test-" + randomName()
	ln, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var abstractConns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			abstractConns.Add(1)
			c.Close()
		}
	}()
	if c, err := net.Dial("unix", "@"+abstract); err != nil {
		t.Fatalf("baseline: the host cannot reach its own abstract socket: %v", err)
	} else {
		c.Close()
	}
	if !eventually(func() bool { return abstractConns.Load() == 1 }) {
		t.Fatal("baseline connection to the abstract socket not accepted")
	}
	abstractConns.Store(0)
	// A descriptor the server inherited without close-on-exec (from a
	// shell, a supervisor, a library's dup): here a dup(2) of the service's
	// .env, which the sandbox must never receive.
	envFile, err := os.Open(filepath.Join(svc, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	inherited, err := syscall.Dup(int(envFile.Fd()))
	envFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(inherited) })
	nr := riskySyscalls[runtime.GOARCH]
	hostTmpMark := "itss-pwned-" + randomName()
	t.Cleanup(func() { os.Remove(filepath.Join(os.TempDir(), hostTmpMark)) })
	subst := strings.NewReplacer(
		"SVC", svc, "SECRETWORD", secret, "SERVERPID", strconv.Itoa(os.Getpid()), "SERVERCWD", wd,
		"HOSTTMPMARK", hostTmpMark, "DATADIR", r.o.DataDir, "ABSTRACTNAME", abstract,
		"NR_IO_URING_SETUP", strconv.Itoa(nr["io_uring_setup"]), "NR_KEYCTL", strconv.Itoa(nr["keyctl"]),
		"NR_USERFAULTFD", strconv.Itoa(nr["userfaultfd"]), "NR_PTRACE", strconv.Itoa(nr["ptrace"]),
		"NR_BPF", strconv.Itoa(nr["bpf"]), "NR_PERF_EVENT_OPEN", strconv.Itoa(nr["perf_event_open"]),
		"NR_UNSHARE", strconv.Itoa(nr["unshare"]),
	)
	// Host paths the sandbox's mount table must not name.
	serverPaths := func(t *testing.T, res Result) {
		t.Helper()
		out := res.Stdout + res.Stderr
		if !strings.Contains(out, " /usr ") {
			t.Fatalf("no mount table in the output:\n%s", out)
		}
		for _, p := range []string{r.o.DataDir, r.root, svc, wd} {
			if strings.Contains(out, p) {
				t.Fatalf("the sandbox's mount table names the server's %s:\n%s", p, out)
			}
		}
		readOnlyHostMounts(t, out)
	}

	notLeaked := func(t *testing.T, res Result) {
		t.Helper()
		if strings.Contains(res.Stdout, "LEAK") || strings.Contains(res.Stdout, secret) || strings.Contains(res.Stderr, secret) {
			t.Fatalf("secret reached the program:\n%s\n%s", res.Stdout, res.Stderr)
		}
	}
	stopped := func(t *testing.T, res Result) {
		t.Helper()
		if res.OK() {
			t.Fatalf("program was not stopped: %+v", res)
		}
	}
	limitHit := func(limit string) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			if !contains(res.LimitsHit, limit) {
				t.Fatalf("limit %q not reported: limits %v, exit %d, stderr %.300q", limit, res.LimitsHit, res.ExitCode, res.Stderr)
			}
		}
	}
	noSurvivor := func(marker string) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			if !eventually(func() bool { return len(processesWithArg(marker)) == 0 }) {
				t.Fatalf("processes outlived the run: %v", processesWithArg(marker))
			}
		}
	}
	all := func(checks ...func(*testing.T, Result)) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			for _, c := range checks {
				c(t, res)
			}
		}
	}
	outputContains := func(parts ...string) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			for _, p := range parts {
				if !strings.Contains(res.Stdout+res.Stderr, p) {
					t.Fatalf("output lacks %q:\nstdout: %.2000s\nstderr: %.2000s", p, res.Stdout, res.Stderr)
				}
			}
		}
	}
	outputLacks := func(parts ...string) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			for _, p := range parts {
				if strings.Contains(res.Stdout+res.Stderr, p) {
					t.Fatalf("output contains %q:\nstdout: %.2000s\nstderr: %.2000s", p, res.Stdout, res.Stderr)
				}
			}
		}
	}
	truncatedAt := func(stream string) func(*testing.T, Result) {
		return func(t *testing.T, res Result) {
			t.Helper()
			got := res.Stdout
			if stream == "stderr" {
				got = res.Stderr
			}
			if !res.Truncated || len(got) != r.Limits().OutputBytes || !contains(res.LimitsHit, "output") {
				t.Fatalf("%s not truncated at %d: truncated=%v len=%d limits=%v", stream, r.Limits().OutputBytes, res.Truncated, len(got), res.LimitsHit)
			}
		}
	}
	finishedInTime := func(t *testing.T, res Result) {
		t.Helper()
		if res.TimedOut {
			t.Fatalf("flood blocked the program until the wall clock: %+v", res.LimitsHit)
		}
	}
	timedOut := func(t *testing.T, res Result) {
		t.Helper()
		if !res.TimedOut || !contains(res.LimitsHit, "wall") {
			t.Fatalf("not stopped by the wall clock: %+v", res)
		}
	}
	spinStopped := func(t *testing.T, res Result) {
		t.Helper()
		if !res.TimedOut && !contains(res.LimitsHit, "cpu") {
			t.Fatalf("spin stopped by neither wall nor CPU limit: %+v", res)
		}
	}

	// With cgroups the kernel's OOM killer ends a memory bomb and the
	// runner reports it; under RLIMIT_AS the program fails to allocate.
	memoryLimit := func(t *testing.T, res Result) {
		t.Helper()
		if r.Isolation() == IsolationBwrapCgroup {
			limitHit("memory")(t, res)
		}
	}
	jsSpawnMark, javaSpawnMark := sleepMarker(), sleepMarker()
	pyDaemon, jsDaemon, javaDaemon := sleepMarker(), sleepMarker(), sleepMarker()
	netProbePy := `
import socket
ifs = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
print('IFS:' + ','.join(ifs))
# Never try an outside address unless the sandbox has no interface but lo.
if ifs != ['lo']:
    print('ABORT interfaces present')
else:
    for host, port in [('127.0.0.1', 3306), ('127.0.0.1', 6379), ('::1', 6379), ('192.0.2.1', 80)]:
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        s.settimeout(1)
        try:
            s.connect((host, port))
            print('CONNECTED %s %d' % (host, port))
        except OSError as e:
            print('refused %s %d %s' % (host, port, e))
    try:
        print('RESOLVED', socket.getaddrinfo('example.com', 80))
    except OSError as e:
        print('dns failed', e)
`
	cases := []hostile{
		// Process and thread bombs.
		{name: "python fork bomb", lang: Python, need: "cgroup", src: `
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
`, check: all(stopped, limitHit("processes"))},
		{name: "python fork bomb via shell", lang: Python, need: "cgroup", src: `
import subprocess
subprocess.run(['/bin/sh', '-c', 'b() { b | b & }; b'])
`, check: all(limitHit("processes"))},
		{name: "javascript spawn flood", lang: JavaScript, need: "cgroup", src: `
const { spawn } = require('child_process');
let n = 0;
for (let i = 0; i < 300; i++) {
  try { const c = spawn('/bin/sleep', ['` + jsSpawnMark + `']); c.on('error', () => {}); n++; } catch (e) {}
}
console.log('spawned ' + n);
`, check: all(limitHit("processes"), noSurvivor(jsSpawnMark))},
		{name: "java process flood", lang: Java, need: "cgroup", src: `
public class Bomb {
  public static void main(String[] a) {
    int n = 0;
    try {
      for (int i = 0; i < 300; i++) { new ProcessBuilder("/bin/sleep", "` + javaSpawnMark + `").start(); n++; }
    } catch (Throwable e) { System.out.println("refused after " + n + ": " + e); }
  }
}`, check: all(limitHit("processes"), noSurvivor(javaSpawnMark))},
		{name: "java thread bomb", lang: Java, need: "cgroup", src: `
public class Threads {
  public static void main(String[] a) {
    int n = 0;
    try {
      while (true) {
        Thread t = new Thread(() -> { try { Thread.sleep(100000); } catch (InterruptedException e) {} });
        t.setDaemon(true);
        t.start();
        n++;
      }
    } catch (Throwable e) { System.out.println("stopped after " + n + " threads: " + e); }
  }
}`, check: all(outputContains("stopped after", "unable to create native thread"), limitHit("processes"))},
		{name: "python thread bomb", lang: Python, need: "cgroup", src: `
import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
        n += 1
except RuntimeError as e:
    print('stopped after', n, 'threads:', e)
`, check: all(outputContains("stopped after", "can't start new thread"), limitHit("processes"))},

		// Memory.
		{name: "python memory bomb", lang: Python, need: "bwrap", src: `
x = []
while True:
    x.append(bytearray(8 << 20))
`, check: all(stopped, memoryLimit)},
		{name: "javascript memory bomb", lang: JavaScript, need: "bwrap", src: `
const a = [];
while (true) a.push(Buffer.alloc(8 << 20, 1));
`, check: all(stopped, memoryLimit)},
		{name: "javascript heap bomb", lang: JavaScript, need: "bwrap", src: `
const a = [];
while (true) a.push(new Array(1e6).fill({ x: 1 }));
`, check: all(stopped)},
		{name: "java memory bomb", lang: Java, need: "bwrap", src: `
import java.util.*;
public class Mem {
  public static void main(String[] a) {
    List<long[]> l = new ArrayList<>();
    while (true) l.add(new long[1 << 20]);
  }
}`, check: all(stopped, outputContains("OutOfMemoryError"))},

		// CPU and wall clock.
		{name: "python cpu spin", lang: Python, src: "while True:\n    pass", check: spinStopped},
		{name: "javascript cpu spin", lang: JavaScript, src: "for (;;) {}", check: spinStopped},
		{name: "java cpu spin", lang: Java, src: "public class Spin { public static void main(String[] a) { long x = 0; while (true) { x++; } } }", check: spinStopped},
		{name: "python sleeps past the wall", lang: Python, src: "import time\ntime.sleep(100)", check: timedOut},
		{name: "javascript sleeps past the wall", lang: JavaScript, src: "setTimeout(() => {}, 100000)", check: timedOut},

		// Output.
		{name: "python endless stdout flood", lang: Python, src: "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", check: all(truncatedAt("stdout"))},
		{name: "python finite stdout flood is drained", lang: Python, src: "import sys\nsys.stdout.write('x' * (50 << 20))\nsys.stdout.flush()\nprint('done', file=sys.stderr)", check: all(truncatedAt("stdout"), finishedInTime, outputContains("done"))},
		{name: "python stderr flood", lang: Python, src: "import sys\nfor _ in range(800):\n    sys.stderr.write('y' * 65536)\nprint('done')", check: all(truncatedAt("stderr"), finishedInTime, outputContains("done"))},
		{name: "python huge single line", lang: Python, src: "print('x' * (40 << 20))", check: all(truncatedAt("stdout"), finishedInTime)},
		{name: "javascript stdout flood", lang: JavaScript, src: "const s = 'x'.repeat(1 << 16); for (let i = 0; i < 800; i++) process.stdout.write(s); console.error('done')", check: all(truncatedAt("stdout"), finishedInTime, outputContains("done"))},
		{name: "java stdout flood", lang: Java, src: "public class Flood { public static void main(String[] a) { String s = \"x\".repeat(65536); for (int i = 0; i < 800; i++) System.out.print(s); System.out.flush(); System.err.println(\"done\"); } }", check: all(truncatedAt("stdout"), finishedInTime, outputContains("done"))},

		// Disk.
		{name: "python disk fill", lang: Python, need: "bwrap", src: `
import errno
for d in ['/work', '/tmp', '/dev/shm']:
    try:
        with open(d + '/big', 'wb') as f:
            while True:
                f.write(b'x' * (1 << 20))
    except OSError as e:
        print(d, 'single file stopped', errno.errorcode[e.errno])
    n = 0
    try:
        while True:
            with open('%s/f%d' % (d, n), 'wb') as f:
                f.write(b'x' * (1 << 20))
            n += 1
    except OSError as e:
        print(d, 'files stopped', errno.errorcode[e.errno], n)
for p in ['/pwned', '/usr/pwned', '/etc/pwned', '/dev/pwned']:
    try:
        open(p, 'w')
        print('WROTE', p)
    except OSError as e:
        print(p, errno.errorcode[e.errno])
`, check: all(outputContains("/work single file stopped EFBIG", "/work files stopped ENOSPC", "/tmp files stopped ENOSPC",
			"/dev/shm files stopped ENOSPC", "/pwned EROFS", "/usr/pwned EROFS"), outputLacks("WROTE"))},

		// Stdin.
		{name: "stdin flood to a program that never reads", lang: Python, stdin: strings.Repeat("z", 64<<10), src: "print('ignored')", check: all(finishedInTime, outputContains("ignored"))},
		{name: "stdin flood read whole", lang: Python, stdin: strings.Repeat("z", 64<<10), src: "import sys\nprint(len(sys.stdin.read()))", check: outputContains("65536")},

		// Network.
		{name: "python network and dns", lang: Python, need: "bwrap", src: netProbePy,
			check: all(outputContains("IFS:lo", "refused 127.0.0.1 3306", "refused 127.0.0.1 6379", "refused 192.0.2.1 80", "dns failed"),
				outputLacks("CONNECTED", "RESOLVED", "ABORT"))},
		{name: "javascript network", lang: JavaScript, need: "bwrap", src: `
const net = require('net'), fs = require('fs'), dns = require('dns');
const ifs = fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).filter(Boolean).map(l => l.split(':')[0].trim());
console.log('IFS:' + ifs.join(','));
if (ifs.join(',') !== 'lo') { console.log('ABORT'); process.exit(0); }
for (const [host, port] of [['127.0.0.1', 3306], ['127.0.0.1', 6379], ['192.0.2.1', 80]]) {
  const s = net.connect({ host, port, timeout: 1000 });
  s.on('connect', () => { console.log('CONNECTED ' + host + ' ' + port); s.destroy(); });
  s.on('error', e => console.log('refused ' + host + ' ' + port + ' ' + e.code));
  s.on('timeout', () => { console.log('timeout ' + host); s.destroy(); });
}
dns.lookup('example.com', (err, addr) => console.log(err ? 'dns failed ' + err.code : 'RESOLVED ' + addr));
`, check: all(outputContains("IFS:lo", "refused 127.0.0.1 3306", "refused 127.0.0.1 6379", "refused 192.0.2.1 80", "dns failed"), outputLacks("CONNECTED", "RESOLVED", "ABORT"))},
		{name: "java network", lang: Java, need: "bwrap", src: `
import java.net.*;
import java.nio.file.*;
public class Net {
  public static void main(String[] a) throws Exception {
    String dev = Files.readString(Path.of("/proc/net/dev"));
    String[] lines = dev.split("\n");
    StringBuilder ifs = new StringBuilder();
    for (int i = 2; i < lines.length; i++) ifs.append(lines[i].split(":")[0].trim());
    System.out.println("IFS:" + ifs);
    if (!ifs.toString().equals("lo")) { System.out.println("ABORT"); return; }
    String[][] targets = {{"127.0.0.1", "3306"}, {"127.0.0.1", "6379"}, {"192.0.2.1", "80"}};
    for (String[] t : targets) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(t[0], Integer.parseInt(t[1])), 1000);
        System.out.println("CONNECTED " + t[0] + " " + t[1]);
      } catch (Exception e) { System.out.println("refused " + t[0] + " " + t[1] + " " + e.getMessage()); }
    }
    try { System.out.println("RESOLVED " + InetAddress.getByName("example.com")); }
    catch (Exception e) { System.out.println("dns failed " + e); }
  }
}`, check: all(outputContains("IFS:lo", "refused 127.0.0.1 3306", "refused 127.0.0.1 6379", "refused 192.0.2.1 80", "dns failed"), outputLacks("CONNECTED", "RESOLVED", "ABORT"))},

		// The service's secrets and files.
		{name: "python reads the service's secrets", lang: Python, need: "bwrap", src: `
import os
for p in ['SVC/.env', 'SVC/data/itss.db', 'SVC/data/keys/jwt.pem', '/proc/SERVERPID/environ',
          '/proc/1/root/SVC/.env', 'SERVERCWD/runner.go', '/etc/shadow', '/etc/mysql/debian.cnf',
          '/root/.bash_history', 'DATADIR']:
    try:
        with open(p, 'rb') as f:
            print('LEAK', p, f.read(200))
    except OSError as e:
        print('blocked', p, type(e).__name__)
for d in ['SVC', 'SERVERCWD', 'DATADIR', '/home', '/var/lib/mysql', '/proc/SERVERPID']:
    try:
        print('LEAK listing', d, os.listdir(d))
    except OSError as e:
        print('blocked', d, type(e).__name__)
print('ENV:' + ','.join(sorted(os.environ)))
print('IDS:', os.getuid(), os.getgid(), os.geteuid())
print('CAPS:', [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])
print('PROCS:', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
# /proc/sys must be read-only: kernel.hostname is private to the sandbox's
# UTS namespace, so trying it is harmless even if the check failed.
try:
    with open('/proc/sys/kernel/hostname', 'w') as f:
        f.write('pwned')
    print('WROTE /proc/sys')
except OSError as e:
    print('proc sys', type(e).__name__)
for p in ['/proc/keys', '/proc/timer_list', '/proc/kallsyms', '/proc/sysrq-trigger']:
    try:
        with open(p, 'rb') as f:
            print('LEAK', p, f.read(100))
    except OSError as e:
        print('blocked', p, type(e).__name__)
print('/sys/kernel', os.path.exists('/sys/kernel') and 'present' or 'absent')
`, check: all(notLeaked, outputContains("ENV:HOME,LANG,LC_ALL,PATH,PWD,TMPDIR\n", "IDS: 1000 1000 1000", "CAPS: 0000000000000000",
			"PROCS: [1, 2]", "/sys/kernel absent"), outputLacks("WROTE"))},
		{name: "javascript reads the service's secrets", lang: JavaScript, need: "bwrap", src: `
const fs = require('fs');
for (const p of ['SVC/.env', 'SVC/data/itss.db', 'SVC/data/keys/jwt.pem', '/proc/SERVERPID/environ', 'SERVERCWD/runner.go']) {
  try { console.log('LEAK ' + p + ' ' + fs.readFileSync(p, 'latin1').slice(0, 200)); }
  catch (e) { console.log('blocked ' + p + ' ' + e.code); }
}
console.log('ENV:' + Object.keys(process.env).sort().join(','));
`, check: all(notLeaked, outputContains("blocked "+svc+"/.env ENOENT", "ENV:HOME,LANG,LC_ALL,PATH,PWD,TMPDIR\n"))},
		{name: "java reads the service's secrets", lang: Java, need: "bwrap", src: `
import java.nio.file.*;
public class Secrets {
  public static void main(String[] a) {
    for (String p : new String[]{"SVC/.env", "SVC/data/itss.db", "SVC/data/keys/jwt.pem", "/proc/SERVERPID/environ"}) {
      try { System.out.println("LEAK " + p + " " + Files.readString(Path.of(p))); }
      catch (Exception e) { System.out.println("blocked " + p + " " + e.getClass().getSimpleName()); }
    }
    System.out.println("ENV:" + new java.util.TreeSet<>(System.getenv().keySet()));
  }
}`, check: all(notLeaked, outputContains("blocked "+svc+"/.env NoSuchFileException"))},
		{name: "python writes into storage roots and the host's tmp", lang: Python, need: "bwrap", src: `
for p in ['SVC/storage/recordings/x/pwned', 'SVC/pwned', '/tmp/HOSTTMPMARK']:
    try:
        with open(p, 'w') as f:
            f.write('pwned')
        print('wrote', p)
    except OSError as e:
        print('blocked', p, type(e).__name__)
`, check: func(t *testing.T, res Result) {
			for _, p := range []string{filepath.Join(svc, "storage/recordings/x/pwned"), filepath.Join(svc, "pwned"), filepath.Join(os.TempDir(), hostTmpMark)} {
				if fileExists(p) {
					t.Fatalf("program wrote %s on the host", p)
				}
			}
		}},

		// Escaping the run.
		{name: "python daemon outlives nothing", lang: Python, need: "bwrap", src: `
import os
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', '` + pyDaemon + `'])
    os._exit(0)
os.waitpid(pid, 0)
print('parent done')
`, check: all(outputContains("parent done"), finishedInTime, noSurvivor(pyDaemon))},
		{name: "javascript detached child outlives nothing", lang: JavaScript, need: "bwrap", src: `
const { spawn } = require('child_process');
spawn('/bin/sleep', ['` + jsDaemon + `'], { detached: true, stdio: 'ignore' }).unref();
console.log('parent done');
`, check: all(outputContains("parent done"), finishedInTime, noSurvivor(jsDaemon))},
		{name: "java child process outlives nothing", lang: Java, need: "bwrap", src: `
public class Daemon {
  public static void main(String[] a) throws Exception {
    new ProcessBuilder("/bin/sh", "-c", "setsid /bin/sleep ` + javaDaemon + ` &").start().waitFor();
    System.out.println("parent done");
  }
}`, check: all(outputContains("parent done"), finishedInTime, noSurvivor(javaDaemon))},
		{name: "python kills its parent and everything it can", lang: Python, need: "bwrap", src: `
import os, signal
for pid in [os.getppid(), 1]:
    try:
        os.kill(pid, signal.SIGKILL)
        print('signalled', pid)
    except OSError as e:
        print('refused', pid, e)
try:
    os.kill(-1, signal.SIGKILL)
except OSError as e:
    print('kill -1 refused', e)
print('still here')
`, check: func(t *testing.T, res Result) {
			if res.TimedOut {
				t.Fatalf("run hung: %+v", res)
			}
		}},

		// What the mount table, the network namespace and the kernel's
		// interfaces give away.
		{name: "python mount table names no server path", lang: Python, need: "bwrap",
			src: "print(open('/proc/self/mountinfo').read())", check: serverPaths},
		{name: "java mount table names no server path", lang: Java, need: "bwrap", src: `
public class Mounts {
  public static void main(String[] a) throws Exception {
    System.out.println(java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/mountinfo")));
  }
}`, check: serverPaths},
		{name: "python looks for descriptors of the host", lang: Python, need: "bwrap", src: `
import os
fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))
print('FDS:', fds)
for fd in fds[3:]:
    try:
        print('LEAK', fd, os.readlink('/proc/self/fd/%d' % fd), os.pread(fd, 200, 0))
    except OSError:
        pass
print('INIT FDS:', sorted(os.readlink('/proc/1/fd/' + f) for f in os.listdir('/proc/1/fd')))
`, check: func(t *testing.T, res Result) {
			notLeaked(t, res)
			// 0-2 and the descriptor listing /proc/self/fd; the sandbox's
			// init holds its pipes and an eventfd, nothing of the host.
			outputContains("FDS: [0, 1, 2, 3]\n")(t, res)
			for _, line := range strings.Split(res.Stdout, "\n") {
				if rest, ok := strings.CutPrefix(line, "INIT FDS: "); ok {
					for _, f := range strings.Split(strings.Trim(rest, "[]"), ", ") {
						if f = strings.Trim(f, "'"); !strings.HasPrefix(f, "pipe:") && f != "anon_inode:[eventfd]" {
							t.Fatalf("the sandbox's init holds %s", f)
						}
					}
				}
			}
		}},
		{name: "python reads local configuration in the system folders", lang: Python, need: "bwrap", src: `
import os
try:
    print('LISTING', sorted(os.listdir('/usr/local/etc')))
except OSError as e:
    print('absent', type(e).__name__)
`, check: func(t *testing.T, res Result) {
			if strings.Contains(res.Stdout, "LISTING") && !strings.Contains(res.Stdout, "LISTING []") {
				t.Fatalf("/usr/local/etc is visible: %s", res.Stdout)
			}
		}},
		{name: "python connects to the host's abstract unix socket", lang: Python, need: "bwrap", src: `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('\0ABSTRACTNAME')
    print('CONNECTED')
except OSError as e:
    print('refused', e)
`, check: func(t *testing.T, res Result) {
			outputContains("refused")(t, res)
			outputLacks("CONNECTED")(t, res)
			if n := abstractConns.Load(); n != 0 {
				t.Fatalf("the host's abstract socket accepted %d connections from the sandbox", n)
			}
		}},
		{name: "python calls the kernel's riskiest interfaces", lang: Python, need: "bwrap", src: `
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    print(name, 'ALLOWED' if r >= 0 else errno.errorcode.get(e, e))
buf = ctypes.create_string_buffer(256)
call('io_uring_setup', NR_IO_URING_SETUP, 1, ctypes.addressof(buf))
call('keyctl', NR_KEYCTL, 0, -3, 1)        # KEYCTL_GET_KEYRING_ID, session keyring, create
call('userfaultfd', NR_USERFAULTFD, 1)      # UFFD_USER_MODE_ONLY
call('ptrace', NR_PTRACE, 12, os.getpid(), 0, ctypes.addressof(buf))  # PTRACE_GETREGS
call('bpf', NR_BPF, 0, ctypes.addressof(buf), 72)  # BPF_MAP_CREATE
call('perf_event_open', NR_PERF_EVENT_OPEN, ctypes.addressof(buf), 0, -1, -1, 0)
call('unshare', NR_UNSHARE, 0x20000)        # CLONE_NEWNS
`, check: func(t *testing.T, res Result) {
			if r.sb.seccomp == nil || nr == nil {
				t.Skipf("no seccomp filter for %s or this bubblewrap: these calls are held only by namespaces and dropped capabilities", runtime.GOARCH)
			}
			outputContains("io_uring_setup EPERM\n", "keyctl EPERM\n", "userfaultfd EPERM\n", "ptrace EPERM\n",
				"bpf EPERM\n", "perf_event_open EPERM\n", "unshare EPERM\n")(t, res)
		}},
	}
	for _, c := range cases {
		c.src = subst.Replace(c.src)
		t.Run(c.name, func(t *testing.T) {
			// The pool runs two at a time; the rest wait in its queue.
			t.Parallel()
			requireLanguage(t, r, c.lang)
			if c.need != "" {
				requireIsolation(t, r, c.need)
			}
			t0 := time.Now()
			res := run(t, r, c.lang, c.src, c.stdin)
			if elapsed := time.Since(t0); elapsed > testRunTimeout+testCompileTimeout+10*time.Second {
				t.Fatalf("run took %v", elapsed)
			}
			if c.check != nil {
				c.check(t, res)
			}
			assertNoLeftovers(t, res)
			assertHealthy(t, r)
		})
	}
}

func TestFilesOfOneRunAreInvisibleToTheNext(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireIsolation(t, r, "bwrap")
	mark := "left-" + randomName()
	res := run(t, r, Python, strings.NewReplacer("MARK", mark, "SERVERPID", strconv.Itoa(os.Getpid())).Replace(`
import os
for d in ['/work', '/tmp', '/dev/shm']:
    with open(d + '/MARK', 'w') as f:
        f.write('left by a previous run')
os.symlink('/proc/SERVERPID/root', '/work/MARK-link')
print('planted')
`), "")
	if !res.OK() {
		t.Fatalf("plant: %+v", res)
	}
	res = run(t, r, Python, `
import os
for d in ['/work', '/tmp', '/dev/shm']:
    print(d, sorted(n for n in os.listdir(d) if not n.endswith('.py')))
`, "")
	if !res.OK() || strings.Contains(res.Stdout, mark) || res.Stdout != "/work []\n/tmp []\n/dev/shm []\n" {
		t.Fatalf("files of an earlier run are visible: %+v", res)
	}
}

// TestHostBaselineServicesReachable shows that the network cases above mean
// something: the services the sandbox cannot reach do answer on the host.
func TestHostBaselineServicesReachable(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:3306", "127.0.0.1:6379"} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Logf("%s not reachable from the host either (%v): the sandbox case still checks refusal", addr, err)
			continue
		}
		c.Close()
	}
}

func TestSymlinkPlantedInWorkingFolderIsNotFollowedOnCleanup(t *testing.T) {
	t.Parallel()
	canaryDir := t.TempDir()
	canary := filepath.Join(canaryDir, "canary.txt")
	if err := os.WriteFile(canary, []byte("intact"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer("CANARYDIR", canaryDir, "CANARY", canary).Replace(`
import os
os.symlink('CANARY', 'file-link')
os.symlink('CANARYDIR', 'dir-link')
os.symlink('/', 'root-link')
os.makedirs('sub/deeper')
os.symlink('CANARYDIR', 'sub/deeper/dir-link')
os.symlink('CANARY', os.environ['TMPDIR'] + '/tmp-link')
print('planted')
`)
	check := func(t *testing.T, r *Runner) {
		res := run(t, r, Python, src, "")
		if !res.OK() || res.Stdout != "planted\n" {
			t.Fatalf("%+v", res)
		}
		b, err := os.ReadFile(canary)
		if err != nil || string(b) != "intact" {
			t.Fatalf("canary damaged: %q %v", b, err)
		}
		assertRootEmpty(t, r)
		assertHealthy(t, r)
	}
	t.Run("bubblewrap", func(t *testing.T) {
		r := newRunner(t, Options{Workers: 1}) // private: its root must end empty
		requireIsolation(t, r, "bwrap")
		check(t, r)
	})
	// Without bubblewrap the working folder is a real host folder: this is
	// where removal without following links matters.
	t.Run("host working folder", func(t *testing.T) {
		check(t, newRunner(t, Options{BwrapBin: "/nonexistent/bwrap", Workers: 1}))
	})
}

func TestTwoHundredParallelRunsLeakNothing(t *testing.T) {
	// Not parallel: goroutine and descriptor counts must not see other tests.
	r := newRunner(t, Options{Workers: 2, Queue: 256})
	assertHealthy(t, r) // warm up: first-use allocations are not leaks
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	goroutines0, fds0 := runtime.NumGoroutine(), fds()

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Run(context.Background(), Request{Language: Python, Source: fmt.Sprintf("print(%d)", i)})
			switch {
			case err != nil:
				errs <- err
			case !res.OK() || res.Stdout != fmt.Sprintf("%d\n", i):
				errs <- fmt.Errorf("run %d: %+v", i, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !eventually(func() bool { return runtime.NumGoroutine() <= goroutines0 }) {
		t.Errorf("goroutines: %d before, %d after", goroutines0, runtime.NumGoroutine())
	}
	if !eventually(func() bool { return fds() <= fds0 }) {
		t.Errorf("file descriptors: %d before, %d after", fds0, fds())
	}
	assertRootEmpty(t, r)
	if cg := r.sb.cg; cg != nil {
		for _, base := range []string{cg.memBase, cg.pidsBase} {
			jobs, _ := filepath.Glob(filepath.Join(base, "job-*"))
			if len(jobs) > 0 {
				t.Errorf("cgroups left in %s: %v", base, jobs)
			}
		}
	}
}

// riskySyscalls are the numbers, per architecture, of calls the seccomp
// filter refuses, for the programs that try them.
var riskySyscalls = map[string]map[string]int{
	"amd64": {"io_uring_setup": 425, "keyctl": 250, "userfaultfd": 323, "ptrace": 101, "bpf": 321, "perf_event_open": 298, "unshare": 272},
	"arm64": {"io_uring_setup": 425, "keyctl": 219, "userfaultfd": 282, "ptrace": 117, "bpf": 280, "perf_event_open": 241, "unshare": 97},
}

// readOnlyHostMounts checks a mount table (/proc/self/mountinfo) for
// writable mounts of host filesystems: only the sandbox's own tmpfs,
// procfs, devpts and device nodes may be writable.
func readOnlyHostMounts(t *testing.T, mountinfo string) {
	t.Helper()
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || sep+1 >= len(f) {
			continue
		}
		switch f[sep+1] {
		case "tmpfs", "proc", "devpts", "devtmpfs", "mqueue":
			continue
		}
		if !strings.HasPrefix(f[5], "ro") {
			t.Fatalf("writable host mount in the sandbox: %s", line)
		}
	}
}

func TestLongFileNameCannotMultiplyOutput(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Python)
	// The display name replaces every occurrence of the temporary file
	// name, which the program can print as often as it likes.
	_, err := r.Run(context.Background(), Request{Language: Python, Source: "print(1)", FileName: strings.Repeat("n", MaxFileName+1)})
	if itss.ErrorCode(err) != itss.CodeInvalid {
		t.Fatalf("file name of %d bytes: err = %v, want invalid", MaxFileName+1, err)
	}
	for _, name := range []string{"../x", "a b", "a/b", "x\n"} {
		if _, err := r.Run(context.Background(), Request{Language: Python, Source: "print(1)", FileName: name}); itss.ErrorCode(err) != itss.CodeInvalid {
			t.Fatalf("file name %q: err = %v, want invalid", name, err)
		}
	}
	res, err := r.Run(context.Background(), Request{Language: Python, FileName: strings.Repeat("n", MaxFileName),
		Source: "import sys\nfor _ in range(5000):\n    print(sys.argv[0], file=sys.stderr)\n    print(sys.argv[0])"})
	if err != nil {
		t.Fatal(err)
	}
	limit := r.Limits().OutputBytes
	if len(res.Stdout) > limit || len(res.Stderr) > limit || !res.Truncated || !contains(res.LimitsHit, "output") {
		t.Fatalf("output grew past the limit through name replacement: stdout %d, stderr %d bytes (limit %d), truncated %v, limits %v",
			len(res.Stdout), len(res.Stderr), limit, res.Truncated, res.LimitsHit)
	}
	if hexName.MatchString(res.Stdout) || !strings.HasPrefix(res.Stdout, strings.Repeat("n", MaxFileName)+".py\n") {
		t.Fatalf("temporary name not replaced: %.300q", res.Stdout)
	}
}

// hostUID returns the real uid in /proc/<pid>/status.
func hostUID(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}

// requireHostUser skips (or, under ITSS_REQUIRE_SANDBOX=1, fails) where a
// root server cannot start sandboxes as an unprivileged host user.
func requireHostUser(t *testing.T, r *Runner) {
	t.Helper()
	requireIsolation(t, r, "bwrap")
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: sandboxes run as their own unprivileged user")
	}
	if r.sb.hostUser == nil {
		msg := "this host does not let an unprivileged user start bubblewrap (unprivileged user namespaces disabled?)"
		if os.Getenv("ITSS_REQUIRE_SANDBOX") == "1" {
			t.Fatal("ITSS_REQUIRE_SANDBOX=1: " + msg)
		}
		t.Skip(msg)
	}
}

func TestProgramsRunAsAnUnprivilegedHostUser(t *testing.T) {
	t.Parallel()
	o := Options{Workers: 3}
	// The distribution's Python is readable by everyone; a pyenv install
	// under /root is not, and keeps the root-mapped sandbox.
	if fileExists("/usr/bin/python3") {
		o.PythonBin = "/usr/bin/python3"
	}
	r := newRunner(t, o)
	requireHostUser(t, r)
	want := strconv.Itoa(defaultSandboxHostUID)
	cases := map[string]string{
		Python: `
import os, subprocess
p = subprocess.Popen(['/bin/sleep', 'MARK'])
print('owner of /usr:', os.stat('/usr').st_uid)
p.wait()
`,
		JavaScript: `
const p = require('child_process').spawn('/bin/sleep', ['MARK']);
console.log('owner of /usr: ' + require('fs').statSync('/usr').uid);
`,
		Java: `
public class Who {
  public static void main(String[] a) throws Exception {
    Process p = new ProcessBuilder("/bin/sleep", "MARK").start();
    System.out.println("owner of /usr: " + java.nio.file.Files.getAttribute(java.nio.file.Path.of("/usr"), "unix:uid"));
    p.waitFor();
  }
}`,
	}
	for lang, src := range cases {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			requireLanguage(t, r, lang)
			if r.langs[lang].cred == nil {
				t.Skipf("%s at %s is not reachable by uid %s: its sandboxes stay root-mapped (the runner warns)", lang, r.langs[lang].exe, want)
			}
			// A sleep of a little over a second, long enough to be seen.
			mark := fmt.Sprintf("1.5%09d", rand.IntN(1e9))
			done := make(chan Result, 1)
			go func() { done <- run(t, r, lang, strings.ReplaceAll(src, "MARK", mark), "") }()
			uid := ""
			for uid == "" {
				select {
				case res := <-done:
					t.Fatalf("the program's child was never seen on the host: %+v", res)
				case <-time.After(10 * time.Millisecond):
				}
				for _, p := range processesWithArg(mark) {
					uid = hostUID(strings.SplitN(p, ":", 2)[0])
				}
			}
			res := <-done
			if uid != want {
				t.Fatalf("a %s program's process runs as host uid %s, want %s", lang, uid, want)
			}
			// Root's files in its view are not the program's: host root
			// is not mapped into its user namespace.
			if !res.OK() || strings.Contains(res.Stdout, "owner of /usr: "+sandboxUID+"\n") {
				t.Fatalf("the program owns host root's files: %+v", res)
			}
		})
	}
}

func TestInterpreterTheSandboxUserCannotReachStaysRootMappedWithAWarning(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{Workers: 1})
	requireHostUser(t, r)
	// An interpreter installed in a folder only root can enter, as pyenv
	// installs under /root.
	hidden := t.TempDir()
	if err := os.Chmod(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	r.langs["fake"] = &language{name: "fake", ok: true, exe: "/bin/true", binds: []string{hidden}}
	var logged strings.Builder
	var mu sync.Mutex
	r.log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	r.chooseHostUser(context.Background())
	if r.langs["fake"].cred != nil {
		t.Fatal("a language the sandbox user cannot reach was given the unprivileged sandbox")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "FAKE PROGRAMS RUN AS HOST ROOT") {
		t.Fatalf("no warning: %s", logged.String())
	}
	if l := r.langs[JavaScript]; l != nil && l.cred == nil {
		t.Fatalf("node at %s did not get the unprivileged sandbox: %s", l.exe, logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestJavacSandboxHoldsNoHostFolder(t *testing.T) {
	t.Parallel()
	// A stand-in javac that shows the mount table it was given: javac is
	// fed hostile source, so its sandbox must hold nothing of the host's
	// that it could write, nor name the server's folders.
	// Not under /tmp or /work: the sandbox's own /tmp and /work would
	// cover it.
	jdk, err := os.MkdirTemp("/var/tmp", "itss-fake-jdk-")
	if err != nil {
		t.Skipf("no folder outside /tmp for a stand-in javac: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(jdk) })
	os.Mkdir(filepath.Join(jdk, "bin"), 0o755)
	fake := filepath.Join(jdk, "bin", "javac")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ncat /proc/self/mountinfo >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, Options{Workers: 1, JavacBin: fake})
	requireIsolation(t, r, "bwrap")
	requireLanguage(t, r, Java)
	res, err := r.Compile(context.Background(), Request{Language: Java, Source: "public class Main {}"})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || !strings.Contains(res.Stderr, " /usr ") {
		t.Fatalf("stand-in javac did not report its mounts: %+v", res)
	}
	if strings.Contains(res.Stderr, r.o.DataDir) {
		t.Fatalf("javac's sandbox binds a folder of the server's data directory %s:\n%s", r.o.DataDir, res.Stderr)
	}
	readOnlyHostMounts(t, res.Stderr)
}

func TestJavaPackageNamedLikeTheCacheBookkeepingRuns(t *testing.T) {
	t.Parallel()
	r := shared(t)
	requireLanguage(t, r, Java)
	// The cache kept the main class's name in a file called MAIN beside the
	// class tree, which a package of that name collided with; the long
	// package also needs a folded manifest line.
	src := "package MAIN.averyveryverylongpackagenamethatneedsfolding.éàü;\n" +
		"public class ÜberLongClassNameCrossingTheSeventyTwoByteManifestLine {\n" +
		"  public static void main(String[] a) { System.out.println(\"" + randomName() + "\"); }\n}"
	for range 2 { // compiled, then from the cache
		res := run(t, r, Java, src, "")
		if !res.OK() || len(res.Stdout) != 33 {
			t.Fatalf("%+v", res)
		}
	}
}

func TestUnprivilegedSandboxHoldsAForkBombWithoutCgroups(t *testing.T) {
	t.Parallel()
	if !fileExists("/usr/bin/python3") {
		t.Skip("no distribution Python that the sandbox user can reach")
	}
	r := newRunner(t, Options{disableCgroup: true, Workers: 1, PythonBin: "/usr/bin/python3"})
	requireHostUser(t, r)
	if r.langs[Python].cred == nil {
		t.Skip("/usr/bin/python3 is not reachable by the sandbox user")
	}
	// The kernel exempts host root from RLIMIT_NPROC, so without a pids
	// cgroup only the wall clock stopped a root-mapped fork bomb. Bounded
	// at 500 forks so that a failure cannot swamp the host.
	res := run(t, r, Python, `
import os, time
n = 0
try:
    while n < 500:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
    print('NOT STOPPED', n)
except OSError as e:
    print('stopped after', n, e)
`, "")
	if !strings.Contains(res.Stdout, "stopped after") || stoppedAfter(res.Stdout) > r.Limits().Processes {
		t.Fatalf("fork bomb not held by RLIMIT_NPROC: %+v", res)
	}
	assertNoLeftovers(t, res)
}

// stoppedAfter returns the number after "stopped after".
func stoppedAfter(out string) int {
	_, rest, _ := strings.Cut(out, "stopped after ")
	f := strings.Fields(rest)
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.Atoi(f[0])
	return v
}

// TestDefaultPythonFallsBackToOneTheSandboxUserCanRun: with PYTHON_BIN unset,
// a python3 the unprivileged sandbox user cannot reach (pyenv under /root)
// gives way to the system's, so Python programs do not run as host root.
func TestDefaultPythonFallsBackToOneTheSandboxUserCanRun(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{Workers: 1})
	requireHostUser(t, r)
	requireLanguage(t, r, Python)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no system python3 at /usr/bin/python3 to fall back to")
	}
	l := r.langs[Python]
	if l.cred == nil {
		t.Fatalf("python %s runs root-mapped although /usr/bin/python3 exists", l.exe)
	}
	if res := run(t, r, Python, "print(input())", "fallback works\n"); !res.OK() || res.Stdout != "fallback works\n" {
		t.Fatalf("the fallback interpreter does not run programs: %+v", res)
	}
}
