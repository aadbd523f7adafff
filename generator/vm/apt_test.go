package vm

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/apt/debian.sources is the deb822 file of a Debian 12 machine,
// comments included.
func TestParseSourcesDeb822(t *testing.T) {
	data, err := os.ReadFile("testdata/apt/debian.sources")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSourcesDeb822(data)
	if err != nil {
		t.Fatal(err)
	}
	want := mirror{Main: "http://deb.debian.org/debian", Security: "http://deb.debian.org/debian-security"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mirror (-want +got):\n%s", diff)
	}
}

func TestParseSourcesVariants(t *testing.T) {
	for _, tc := range []struct {
		name, deb822, list string
		want               mirror
		err                error
	}{{
		name: "no security entry: derived",
		deb822: "Types: deb deb-src\nURIs: http://mirror.example/debian/ http://other.example/debian\n" +
			"Suites: bookworm bookworm-updates\nComponents: main\n",
		want: mirror{Main: "http://mirror.example/debian", Security: "http://mirror.example/debian-security"},
	}, {
		name: "disabled and foreign entries skipped",
		deb822: "Types: deb\nURIs: http://a.example/debian\nSuites: bookworm\nEnabled: no\n\n" +
			"Types: deb\nURIs: http://ppa.example/ubuntu\nSuites: jammy\n\n" +
			"Types: deb\nURIs: http://b.example/debian\nSuites: trixie\n\n" +
			"Types: deb\nURIs: http://b.example/security\nSuites: trixie-security\n",
		want: mirror{Main: "http://b.example/debian", Security: "http://b.example/security"},
	}, {
		name:   "only deb-src",
		deb822: "Types: deb-src\nURIs: http://a.example/debian\nSuites: bookworm\n",
		err:    errNoMirror,
	}, {
		name: "one-line format",
		list: "# comment\ndeb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://c.example/debian bookworm main\n" +
			"deb http://c.example/debian-security bookworm-security main contrib\n",
		want: mirror{Main: "http://c.example/debian", Security: "http://c.example/debian-security"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got mirror
			var err error
			if tc.list != "" {
				got, err = parseSourcesList([]byte(tc.list))
			} else {
				got, err = parseSourcesDeb822([]byte(tc.deb822))
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mirror (-want +got):\n%s", diff)
			}
		})
	}
}

// The private sources must name the machine's mirror and nothing else.
func TestSourcesFile(t *testing.T) {
	got := string(mirror{Main: "http://m.example/debian", Security: "http://m.example/debian-security"}.sourcesFile())
	paras, err := parseDeb822(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if len(paras) != 2 {
		t.Fatalf("%d entries, want 2:\n%s", len(paras), got)
	}
	for _, p := range paras {
		if !strings.HasPrefix(p["uris"], "http://m.example/") || p["signed-by"] != archiveKeyring || p["targets"] != "Packages" {
			t.Errorf("entry %v", p)
		}
	}
	if !strings.Contains(paras[1]["suites"], "bullseye-security") {
		t.Errorf("security suites %q", paras[1]["suites"])
	}
}

func TestParsePackageName(t *testing.T) {
	for _, tc := range []struct {
		name, release, kind string
		ok                  bool
	}{
		{"linux-image-5.10.0-46-amd64-unsigned", "5.10.0-46-amd64", kindUnsigned, true},
		{"linux-image-5.10.0-46-amd64", "5.10.0-46-amd64", kindImage, true},
		{"linux-image-6.1.0-0.deb11.52-amd64-unsigned", "6.1.0-0.deb11.52-amd64", kindUnsigned, true},
		{"linux-image-6.12.90+deb12.1-amd64", "6.12.90+deb12.1-amd64", kindImage, true},
		{"linux-binary-7.3.4+deb13-amd64", "7.3.4+deb13-amd64", kindBinary, true},
		{"linux-base-7.3.4+deb13-amd64", "7.3.4+deb13-amd64", kindBase, true},
		{"linux-modules-7.3.4+deb13-amd64", "7.3.4+deb13-amd64", kindModules, true},
		{"linux-modules-amd64", "", "", false},
		{"linux-image-6.1.0-56-cloud-amd64", "", "", false},
		{"linux-image-6.1.0-56-rt-amd64-unsigned", "", "", false},
		{"linux-image-6.1-amd64", "", "", false}, // meta package
		{"linux-image-6.1-amd64-signed-template", "", "", false},
		{"linux-image-amd64", "", "", false},
		{"linux-image-5.10.0-46-amd64-dbg", "", "", false},
		{"linux-headers-6.1.0-56-amd64", "", "", false},
	} {
		release, kind, ok := parsePackageName(tc.name)
		if release != tc.release || kind != tc.kind || ok != tc.ok {
			t.Errorf("parsePackageName(%q) = %q, %q, %v; want %q, %q, %v", tc.name, release, kind, ok, tc.release, tc.kind, tc.ok)
		}
	}
}

// testdata/apt/show.txt is apt-cache show output (trimmed to the fields
// resolution reads) of the private index.
func TestResolve(t *testing.T) {
	f, err := os.Open("testdata/apt/show.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := parsePackageInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []resolved{
		{Series: "5.10", Release: "5.10.0-46-amd64", Version: "5.10.262-1", Image: "linux-image-5.10.0-46-amd64-unsigned"},
		// 6.1.0-56 (6.1.192-2) beats the bullseye build 6.1.0-0.deb11.52.
		{Series: "6.1", Release: "6.1.0-56-amd64", Version: "6.1.192-2", Image: "linux-image-6.1.0-56-amd64-unsigned"},
		{Series: "6.12", Release: "6.12.118+deb13-amd64", Version: "6.12.118-1", Image: "linux-image-6.12.118+deb13-amd64-unsigned"},
		// No -unsigned: the signed image. Its linux-base is missing
		// from the index.
		{Series: "6.18", Release: "6.18.15+deb13-amd64", Version: "6.18.15-1~bpo13+1", Image: "linux-image-6.18.15+deb13-amd64"},
		// Split packages: linux-image is a meta package, the image is
		// in linux-binary, the modules in linux-modules. 7.2.12 has
		// neither linux-base nor linux-modules in the index.
		{Series: "7.3", Release: "7.3.4+deb13-amd64", Version: "7.3.4-1~bpo13+1", Image: "linux-binary-7.3.4+deb13-amd64", Base: "linux-base-7.3.4+deb13-amd64", Modules: "linux-modules-7.3.4+deb13-amd64"},
		{Series: "7.2", Release: "7.2.12+deb13-amd64", Version: "7.2.12-1~bpo13+1", Image: "linux-binary-7.2.12+deb13-amd64"},
	} {
		got, err := resolve(want.Series, pkgs)
		if err != nil {
			t.Errorf("resolve(%s): %v", want.Series, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("resolve(%s) (-want +got):\n%s", want.Series, diff)
		}
	}
	if _, err := resolve("4.19", pkgs); !errors.Is(err, ErrNoKernel) {
		t.Errorf("resolve(4.19): %v, want ErrNoKernel", err)
	}
	if _, err := resolve("6.1", nil); !errors.Is(err, ErrNoKernel) {
		t.Errorf("resolve(6.1) on nothing: %v, want ErrNoKernel", err)
	}
}

func TestCompareDebVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"6.1.192-2", "6.1.192-1", 1},
		{"6.1.192-1", "6.1.180-1~deb11u1", 1},
		{"6.1.180-1~deb11u1", "6.1.180-1", -1},
		{"7.3.4-1~bpo13+1", "7.3.4-1", -1},
		{"6.12.118-1", "6.12.99-1", 1},
		{"1:5.10.1-1", "6.1.1-1", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0a", "1.0", 1},
		{"1.0+b1", "1.0", 1},
		{"1.0", "1.0", 0},
		{"1.0-1", "1.00-1", 0},
	} {
		if got := compareDebVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareDebVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareDebVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareDebVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestParseDeb822(t *testing.T) {
	in := "# head comment\nPackage: a\nDescription: short\n more\n .\n end\n\n\n" +
		"Package: b\r\nVersion: 1\r\n"
	got, err := parseDeb822(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []paragraph{
		{"package": "a", "description": "short\nmore\n\nend"},
		{"package": "b", "version": "1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDefaultSet(t *testing.T) {
	pkgs := []packageInfo{
		{Name: "linux-image-5.10.0-46-amd64-unsigned", Version: "5.10.262-1"},
		{Name: "linux-image-6.1.0-56-amd64-unsigned", Version: "6.1.192-1"},
		{Name: "linux-image-6.12.118+deb13-amd64-unsigned", Version: "6.12.118-1"},
		{Name: "linux-binary-6.19.4+deb13-amd64", Version: "6.19.4-1~bpo13+1"},
		{Name: "linux-base-7.3.4+deb13-amd64", Version: "7.3.4-1~bpo13+1"},
		{Name: "linux-binary-7.3.4+deb13-amd64", Version: "7.3.4-1~bpo13+1"},
		{Name: "linux-binary-7.2.1+deb13-amd64", Version: "7.2.1-1~bpo13+1"},
		{Name: "linux-image-6.1.0-56-cloud-amd64-unsigned", Version: "6.1.192-1"},
	}
	all := seriesOf(pkgs)
	if diff := cmp.Diff([]string{"5.10", "6.1", "6.12", "6.19", "7.2", "7.3"}, all); diff != "" {
		t.Errorf("seriesOf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"5.10", "6.1", "6.12", "6.19", "7.3"}, defaultSet(all)); diff != "" {
		t.Errorf("defaultSet (-want +got):\n%s", diff)
	}
	// Without a 7.x and with 6.12 the newest 6.x, the set shrinks.
	if diff := cmp.Diff([]string{"5.10", "6.1", "6.12"}, defaultSet([]string{"5.10", "6.1", "6.12"})); diff != "" {
		t.Errorf("defaultSet (-want +got):\n%s", diff)
	}
	got, err := Series(context.Background(), "", []string{"6.1", "5.10", "6.1"})
	if err != nil || !slices.Equal(got, []string{"5.10", "6.1"}) {
		t.Errorf("Series = %v, %v", got, err)
	}
	if _, err := Series(context.Background(), "", []string{"latest"}); err == nil {
		t.Error("Series accepted \"latest\"")
	}
}
