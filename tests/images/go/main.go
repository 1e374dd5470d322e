// demo-go: a tiny program planted in the test images. Its module build info
// (`go version -m demo-go`) lists four dependencies, vendored at build time
// from Debian's golang-*-dev packages (see ../build.sh).
package main

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/net/html"
	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v2"
)

func main() {
	doc, err := html.Parse(strings.NewReader("<p>customs</p>"))
	out, _ := yaml.Marshal(map[string]string{
		"id":  uuid.NewString(),
		"nfc": norm.NFC.String("e\u0301"),
	})
	fmt.Printf("%shtml ok: %v\n", out, err == nil && doc != nil)
}
