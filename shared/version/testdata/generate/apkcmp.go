// Reads "a<TAB>b" lines, prints "a<TAB>b<TAB>cmp", or "a<TAB>b<TAB>invalid" when go-apk-version
// rejects either side. Run: GO111MODULE=off GOPATH=/usr/share/gocode go run apkcmp.go
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	version "github.com/knqyf263/go-apk-version"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 2)
		a, errA := version.NewVersion(p[0])
		b, errB := version.NewVersion(p[1])
		if errA != nil || errB != nil {
			fmt.Printf("%s\t%s\tinvalid\n", p[0], p[1])
			continue
		}
		fmt.Printf("%s\t%s\t%d\n", p[0], p[1], a.Compare(b))
	}
}
