package proxies_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// variant is how an edge is configured for one run.
type variant string

const (
	// enforcing: the authorization rule and all the telemetry the proxy has.
	enforcing variant = "enforcing"
	// open: the same edge without its authorization rule (a config
	// regression): denials become 200s, which the drills must call
	// NOT_ENFORCED.
	open variant = "open"
	// dark: the rule is there, but the proxy's access log, metrics and
	// tracing are switched off: the evidence is missing, which is FAIL.
	dark variant = "dark"
)

// edge is one running proxy.
type edge struct {
	name      string // "haproxy-open"
	addr      string // its mTLS listener
	metrics   string // host:port Prometheus scrapes; "" when it serves no metrics
	accessLog string // the access-log file it writes (created empty beforehand)
	proc      *testenv.Process
}

// edgeConfig is what a proxy's configuration template is filled with.
type edgeConfig struct {
	Variant                 variant
	Dir                     string
	Addr, Ready, Metrics    string // loopback host:port each
	Upstream                string
	CACert, Cert, Key       string
	Bundle                  string
	AccessLog               string
	Syslog                  string // VictoriaLogs' syslog listener (UDP)
	AllowedCN               string
	AllowedID, AllowedIDHex string
	Root                    bool
}

func (c edgeConfig) Rule() bool { return c.Variant != open }
func (c edgeConfig) Dark() bool { return c.Variant == dark }

// Port is the mTLS listener's port. Caddy picks a site's certificate by the
// host in its address, and the edge's certificate names no IP address: a
// site for any host on the port, bound to loopback, gets it.
func (c edgeConfig) Port() string {
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		panic(fmt.Sprintf("bad address %q", c.Addr))
	}
	return port
}

// proxy is one kind of edge: its binary, its configuration and how it runs.
type proxy struct {
	name   string
	binary string // for testenv.Binary
	file   string // configuration file name
	tmpl   *template.Template
	args   func(bin string, c edgeConfig, conf string) []string
	env    func(c edgeConfig) []string
	// metrics: the proxy serves Prometheus metrics on edgeConfig.Metrics.
	metrics func(v variant) bool
}

// startEdge writes the proxy's configuration for fresh loopback ports,
// starts it and waits until it answers on its readiness port; a proxy that
// lost the race for a port is started again on new ones.
func startEdge(t *testing.T, p proxy, v variant, base edgeConfig) *edge {
	t.Helper()
	bin := testenv.Binary(t, p.binary)
	for attempt := 1; ; attempt++ {
		a := testenv.FreeAddrs(t, 3)
		c := base
		c.Variant, c.Addr, c.Ready, c.Metrics = v, a[0], a[1], a[2]
		c.Dir = t.TempDir()
		c.AccessLog = filepath.Join(c.Dir, "access.log")
		// The file exists even when the proxy writes nothing to it, as it
		// would on a host where logging was switched off after a while: the
		// drill then finds no lines (FAIL), not no file (ERROR).
		require.NoError(t, os.WriteFile(c.AccessLog, nil, 0o644))
		var text bytes.Buffer
		require.NoError(t, p.tmpl.Execute(&text, c))
		conf := filepath.Join(c.Dir, p.file)
		require.NoError(t, os.WriteFile(conf, text.Bytes(), 0o600))
		var opts []testenv.Option
		if p.env != nil {
			opts = append(opts, testenv.WithEnv(p.env(c)...))
		}
		opts = append(opts, testenv.WithGrace(2*time.Second), testenv.WithDir(c.Dir))
		proc := testenv.Start(t, bin, p.args(bin, c, conf), opts...)
		err := proc.WaitReady("http://"+c.Ready+"/ready", 30*time.Second)
		if err == nil {
			e := &edge{name: p.name + "-" + string(v), addr: c.Addr, accessLog: c.AccessLog, proc: proc}
			if p.metrics(v) {
				e.metrics = c.Metrics
			}
			return e
		}
		proc.Stop()
		if attempt < 3 && strings.Contains(strings.ToLower(proc.Output()), "address already in use") {
			t.Logf("%s lost a port race, retrying on new ports", p.name)
			continue
		}
		t.Fatalf("start %s (%s): %v\n%s\nconfig:\n%s", p.name, v, err, proc.LogTail(40), text.String())
	}
}

// baseConfig is what every edge shares: certificates, upstream, identities.
func baseConfig(pk *pki, upstream, syslog string) edgeConfig {
	return edgeConfig{
		Upstream: upstream, CACert: pk.CAFile, Cert: pk.CertFile, Key: pk.KeyFile, Bundle: pk.BundleFile,
		Syslog:    syslog,
		AllowedCN: regexp.QuoteMeta(allowedCN),
		AllowedID: allowedID, AllowedIDHex: uriSANHex(allowedID),
		// Workers of a root master run as "nobody" and could not read the
		// keys in the test's private temporary directory.
		Root: os.Geteuid() == 0,
	}
}

// nginxConf: Debian's nginx 1.22 as an mTLS edge. nginx has no variable for
// a URI SAN, so the rule admits one common name, and refuses /admin to
// everyone. nginx answers TLS refusals with its own HTTP 400 and logs them, with
// $ssl_client_verify saying why. Each line goes to a file and over syslog
// to VictoriaLogs.
var nginxConf = template.Must(template.New("nginx").Parse(`{{if .Root}}user root;
{{end}}worker_processes 1;
events { worker_connections 256; }
http {
  client_body_temp_path {{.Dir}}/body;
  proxy_temp_path {{.Dir}}/proxy;
  fastcgi_temp_path {{.Dir}}/fastcgi;
  uwsgi_temp_path {{.Dir}}/uwsgi;
  scgi_temp_path {{.Dir}}/scgi;
  log_format drill '$remote_addr:$remote_port [$time_iso8601] "$request" $status $body_bytes_sent '
                   'rt=$request_time verify=$ssl_client_verify dn="$ssl_client_s_dn" id=$http_x_request_id';
  access_log off;
  map $ssl_client_s_dn $peer_allowed { default 0; "~(^|,)CN={{.AllowedCN}}(,|$)" 1; }
  server {
    listen {{.Addr}} ssl;
    ssl_certificate {{.Cert}};
    ssl_certificate_key {{.Key}};
    ssl_client_certificate {{.CACert}};
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
{{- if not .Dark}}
    access_log {{.AccessLog}} drill;
    access_log syslog:server={{.Syslog}},tag=nginx drill;
{{- end}}
{{- if .Rule}}
    location /admin { return 403 "denied by edge policy\n"; }
{{- end}}
    location / {
{{- if .Rule}}
      if ($peer_allowed = 0) { return 403 "denied by edge policy\n"; }
{{- end}}
      proxy_pass http://{{.Upstream}};
    }
  }
  server {
    listen {{.Ready}};
    location = /ready { return 200 "ok\n"; }
  }
}
`))

var nginxProxy = proxy{
	name: "nginx", binary: "nginx", file: "nginx.conf", tmpl: nginxConf,
	args: func(_ string, c edgeConfig, conf string) []string {
		return []string{"-p", c.Dir, "-c", conf, "-e", "stderr",
			"-g", "daemon off; pid " + c.Dir + "/nginx.pid; error_log stderr info;"}
	},
	metrics: func(variant) bool { return false },
}

// haproxyConf: Debian's HAProxy 2.6 as an mTLS edge. It authorizes on the
// client certificate's SPIFFE ID, found as its exact DER bytes (2.6 has no
// URI SAN fetch), refuses /admin, logs over syslog to VictoriaLogs (HTTP
// lines with the x-request-id, and one line per failed handshake with the
// client's ip:port), and serves its built-in Prometheus exporter.
var haproxyConf = template.Must(template.New("haproxy").Parse(`global
{{- if not .Dark}}
    log {{.Syslog}} len 4096 format rfc5424 local0 info
{{- end}}
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend mtls
    bind {{.Addr}} ssl crt {{.Bundle}} ca-file {{.CACert}} verify required ssl-min-ver TLSv1.2
    http-request capture req.hdr(x-request-id) len 64
    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %{+Q}r id=%[capture.req.hdr(0)] verify=%[ssl_c_verify]"
{{- if .Rule}}
    http-request deny deny_status 403 if { path_beg /admin }
    http-request deny deny_status 403 if !{ ssl_c_der,hex -m sub {{.AllowedIDHex}} }
{{- end}}
    default_backend app
backend app
    server app {{.Upstream}}
frontend ready
    bind {{.Ready}}
    no log
    http-request return status 200 content-type text/plain string "ok"
{{- if not .Dark}}
frontend metrics
    bind {{.Metrics}}
    no log
    http-request use-service prometheus-exporter if { path /metrics }
{{- end}}
`))

var haproxyProxy = proxy{
	name: "haproxy", binary: "haproxy", file: "haproxy.cfg", tmpl: haproxyConf,
	args: func(_ string, _ edgeConfig, conf string) []string {
		return []string{"-db", "-f", conf}
	},
	metrics: func(v variant) bool { return v != dark },
}

// caddyConf: Caddy 2.11 as an mTLS edge. It authorizes on the client's
// SPIFFE ID with the vars matcher (the CEL expression matcher fails on this
// placeholder), refuses /admin, writes a JSON access log, serves HTTP
// metrics on its admin endpoint and exports a span per request to Jaeger.
// strict_sni_host is relaxed because clients that dial an IP send no SNI.
var caddyConf = template.Must(template.New("caddy").Parse(`{
	admin {{.Metrics}}
	auto_https off
	skip_install_trust
	default_bind 127.0.0.1
	persist_config off
{{- if not .Dark}}
	metrics
{{- end}}
	servers {
		strict_sni_host insecure_off
	}
}

https://:{{.Port}} {
	bind 127.0.0.1
	tls {{.Cert}} {{.Key}} {
		client_auth {
			mode require_and_verify
			trust_pool file {{.CACert}}
		}
	}
{{- if not .Dark}}
	tracing {
		span edge-inbound
	}
	log {
		output file {{.AccessLog}}
		format json
	}
{{- end}}
{{- if .Rule}}
	@admin path /admin /admin/*
	handle @admin {
		respond "denied by edge policy" 403
	}
	@allowed vars {http.request.tls.client.san.uris.0} {{.AllowedID}}
	handle @allowed {
		reverse_proxy {{.Upstream}}
	}
	handle {
		respond "denied by edge policy" 403
	}
{{- else}}
	reverse_proxy {{.Upstream}}
{{- end}}
}

http://{{.Ready}} {
	respond /ready "ok" 200
}
`))

// caddyProxy needs Jaeger's OTLP/gRPC address for its exporter.
func caddyProxy(otlpGRPC string) proxy {
	return proxy{
		name: "caddy", binary: "caddy", file: "Caddyfile", tmpl: caddyConf,
		args: func(_ string, _ edgeConfig, conf string) []string {
			return []string{"run", "--config", conf, "--adapter", "caddyfile"}
		},
		env: func(c edgeConfig) []string {
			return []string{
				"HOME=" + c.Dir, "XDG_DATA_HOME=" + c.Dir, "XDG_CONFIG_HOME=" + c.Dir,
				"OTEL_SERVICE_NAME=edge-caddy",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://" + otlpGRPC,
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc",
				"OTEL_EXPORTER_OTLP_TRACES_INSECURE=true",
				"OTEL_TRACES_SAMPLER=parentbased_always_on",
				// Spans leave within ~250 ms instead of the SDK's 5 s batches.
				"OTEL_BSP_SCHEDULE_DELAY=100",
			}
		},
		// The admin endpoint serves /metrics in every variant; without the
		// metrics option it carries no caddy_http_* series.
		metrics: func(variant) bool { return true },
	}
}

// needCaddyTracing skips (fails under CI) when the Caddy found is Debian's
// 2.6, built without the tracing module.
func needCaddyTracing(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "list-modules").Output()
	if err == nil && strings.Contains(string(out), "http.handlers.tracing") {
		return
	}
	msg := fmt.Sprintf("%s has no tracing module (Debian's 2.6?): install Caddy 2.11 with scripts/install-backends.sh caddy", bin)
	if testenv.InCI() {
		t.Fatal("CI=true, so this is a failure, not a skip: " + msg)
	}
	t.Skip(msg)
}
