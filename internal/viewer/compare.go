package viewer

import (
	"fmt"
	"strings"
)

// Comparison is two traces side by side (GET /api/compare).
type Comparison struct {
	A    Summary      `json:"a"`
	B    Summary      `json:"b"`
	Rows []CompareRow `json:"rows"`
}

// CompareRow is one step of a comparison: the observations of both traces
// at the same path, either of them null when the other trace has no
// observation there.
type CompareRow struct {
	// Path is the names from the root down to the observation, each
	// followed by #n when it is the (n+1)th of its parent's children with
	// that name, in start order: "Agent/Search", "Agent/Search#1".
	Path string `json:"path"`
	A    *Node  `json:"a"`
	B    *Node  `json:"b"`
	// DurationDeltaMS and TokensDelta are B's minus A's, a missing
	// observation counting as 0.
	DurationDeltaMS float64 `json:"duration_delta_ms"`
	TokensDelta     int     `json:"tokens_delta"`
	// ErrorChanged and OutputChanged report that the two differ in error
	// message or output (a missing observation has neither).
	ErrorChanged  bool `json:"error_changed"`
	OutputChanged bool `json:"output_changed"`
}

type cmpNode struct {
	path     string
	key      string
	a, b     *Node
	an, bn   *inode
	children []*cmpNode
	byKey    map[string]*cmpNode
}

// Compare aligns the observations of traces a and b by name and position.
func (ix *Index) Compare(a, b string) (Comparison, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ta, tb := ix.traces[a], ix.traces[b]
	if ta == nil {
		return Comparison{}, fmt.Errorf("no trace %s: %w", a, ErrNotFound)
	}
	if tb == nil {
		return Comparison{}, fmt.Errorf("no trace %s: %w", b, ErrNotFound)
	}
	root := &cmpNode{byKey: map[string]*cmpNode{}}
	merge(root, ta, false)
	merge(root, tb, true)
	c := Comparison{A: ta.summary(), B: tb.summary(), Rows: []CompareRow{}}
	var walk func(n *cmpNode)
	walk = func(n *cmpNode) {
		for _, k := range n.children {
			r := CompareRow{Path: k.path, A: k.a, B: k.b}
			var da, db float64
			var ea, eb string
			if k.a != nil {
				da, ea = k.a.DurationMS, k.a.Error
			}
			if k.b != nil {
				db, eb = k.b.DurationMS, k.b.Error
			}
			r.DurationDeltaMS = ms(int64((db - da) * 1e6))
			r.TokensDelta = total(k.bn) - total(k.an)
			r.ErrorChanged = ea != eb
			r.OutputChanged = outputOf(k.an) != outputOf(k.bn)
			c.Rows = append(c.Rows, r)
			walk(k)
		}
	}
	walk(root)
	return c, nil
}

func total(n *inode) int {
	if n == nil {
		return 0
	}
	return n.total
}

type output struct {
	has  bool
	hash uint64
}

func outputOf(n *inode) output {
	if n == nil || !n.hasOutput {
		return output{}
	}
	return output{true, n.outHash}
}

// merge adds t's skeleton to the tree under root, as side b or a.
func merge(root *cmpNode, t *itrace, sideB bool) {
	nodes := t.skeletonNodes()
	ids := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		ids[n.ID] = true
	}
	kids := map[string][]int{}
	var roots []int
	for i, n := range nodes {
		if n.ParentID == "" || !ids[n.ParentID] {
			roots = append(roots, i)
		} else {
			kids[n.ParentID] = append(kids[n.ParentID], i)
		}
	}
	var add func(parent *cmpNode, list []int)
	add = func(parent *cmpNode, list []int) {
		count := map[string]int{}
		for _, i := range list {
			n := nodes[i]
			name := n.Name
			if n.Running {
				name = "(running)"
			}
			k := count[name]
			count[name]++
			key := escape(name)
			if k > 0 {
				key = fmt.Sprintf("%s#%d", key, k)
			}
			c := parent.byKey[key]
			if c == nil {
				path := key
				if parent.path != "" {
					path = parent.path + "/" + key
				}
				c = &cmpNode{path: path, key: key, byKey: map[string]*cmpNode{}}
				parent.byKey[key] = c
				parent.children = append(parent.children, c)
			}
			node := n
			if sideB {
				c.b, c.bn = &node, t.nodes[n.ID]
			} else {
				c.a, c.an = &node, t.nodes[n.ID]
			}
			add(c, kids[n.ID])
		}
	}
	add(root, roots)
}

// escape keeps a name's slashes and hashes from reading as path syntax.
func escape(name string) string {
	if !strings.ContainsAny(name, "/#\\") {
		return name
	}
	r := strings.NewReplacer(`\`, `\\`, "/", `\/`, "#", `\#`)
	return r.Replace(name)
}
