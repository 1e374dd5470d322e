// Reads "a<TAB>b" lines (the v prefix is added when missing, as OSV omits it), prints "a<TAB>b<TAB>cmp" per
// golang.org/x/mod/semver, or "invalid". Run: GO111MODULE=off GOPATH=/usr/share/gocode go run gocmp.go
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 2)
		a, b := p[0], p[1]
		if !strings.HasPrefix(a, "v") {
			a = "v" + a
		}
		if !strings.HasPrefix(b, "v") {
			b = "v" + b
		}
		if !semver.IsValid(a) || !semver.IsValid(b) {
			fmt.Printf("%s\t%s\tinvalid\n", p[0], p[1])
			continue
		}
		fmt.Printf("%s\t%s\t%d\n", p[0], p[1], semver.Compare(a, b))
	}
}
