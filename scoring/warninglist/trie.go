package warninglist

import (
	"math/bits"
	"net/netip"
)

// u128 is an address as a 128-bit big-endian number; IPv4 addresses use the
// top 32 bits.
type u128 struct{ hi, lo uint64 }

func keyOf(a netip.Addr) (u128, int) {
	if a.Is4() {
		b := a.As4()
		return u128{hi: uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32}, 32
	}
	b := a.As16()
	var k u128
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k, 128
}

// bit returns bit i (0 = most significant).
func (k u128) bit(i int) int {
	if i < 64 {
		return int(k.hi >> (63 - i) & 1)
	}
	return int(k.lo >> (127 - i) & 1)
}

// mask keeps the first n bits.
func (k u128) mask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{hi: k.hi &^ (^uint64(0) >> n)}
	case n == 64:
		return u128{hi: k.hi}
	case n < 128:
		return u128{hi: k.hi, lo: k.lo &^ (^uint64(0) >> (n - 64))}
	}
	return k
}

// common returns how many leading bits a and b share.
func common(a, b u128) int {
	if x := a.hi ^ b.hi; x != 0 {
		return bits.LeadingZeros64(x)
	}
	return 64 + bits.LeadingZeros64(a.lo^b.lo)
}

// trieNode is one node of a path-compressed binary trie: the prefix key/plen,
// two children (0 = none; node 0 is the root) and the set of lists whose
// entries end exactly here (an index into trie.sets, 0 = none).
type trieNode struct {
	key   u128
	plen  uint8
	child [2]uint32
	set   uint32
}

// trie maps network prefixes to sets of list indexes.
type trie struct {
	nodes []trieNode
	sets  [][]uint16 // sets[0] is unused
	index map[string]uint32
}

func newTrie() *trie {
	return &trie{nodes: []trieNode{{}}, sets: [][]uint16{nil}, index: map[string]uint32{}}
}

// addList records list at node n, reusing identical sets.
func (t *trie) addList(n uint32, list uint16) {
	old := t.sets[t.nodes[n].set]
	for _, l := range old {
		if l == list {
			return
		}
	}
	ids := append(append(make([]uint16, 0, len(old)+1), old...), list)
	key := string(u16key(ids))
	id, ok := t.index[key]
	if !ok {
		id = uint32(len(t.sets))
		t.sets = append(t.sets, ids)
		t.index[key] = id
	}
	t.nodes[n].set = id
}

func u16key(ids []uint16) []byte {
	b := make([]byte, 0, 2*len(ids))
	for _, v := range ids {
		b = append(b, byte(v>>8), byte(v))
	}
	return b
}

func (t *trie) newNode(key u128, plen int) uint32 {
	t.nodes = append(t.nodes, trieNode{key: key.mask(plen), plen: uint8(plen)})
	return uint32(len(t.nodes) - 1)
}

// insert adds the prefix key/plen for list.
func (t *trie) insert(key u128, plen int, list uint16) {
	key = key.mask(plen)
	cur := uint32(0)
	for {
		cn := t.nodes[cur]
		if int(cn.plen) == plen {
			t.addList(cur, list)
			return
		}
		b := key.bit(int(cn.plen))
		c := cn.child[b]
		if c == 0 {
			leaf := t.newNode(key, plen)
			t.nodes[cur].child[b] = leaf
			t.addList(leaf, list)
			return
		}
		ch := t.nodes[c]
		cpl := min(common(ch.key, key), int(ch.plen), plen)
		if cpl == int(ch.plen) {
			cur = c
			continue
		}
		mid := t.newNode(key, cpl)
		t.nodes[mid].child[ch.key.bit(cpl)] = c
		t.nodes[cur].child[b] = mid
		if cpl == plen {
			t.addList(mid, list)
			return
		}
		leaf := t.newNode(key, plen)
		t.nodes[mid].child[key.bit(cpl)] = leaf
		t.addList(leaf, list)
		return
	}
}

// lookup calls fn with every set of lists whose prefix contains key/plen,
// shortest prefix first.
func (t *trie) lookup(key u128, plen int, fn func(ids []uint16, key u128, plen int)) {
	cur := uint32(0)
	for {
		n := &t.nodes[cur]
		if int(n.plen) > plen || (n.plen > 0 && common(n.key, key) < int(n.plen)) {
			return
		}
		if n.set != 0 {
			fn(t.sets[n.set], n.key, int(n.plen))
		}
		if int(n.plen) == plen {
			return
		}
		c := n.child[key.bit(int(n.plen))]
		if c == 0 {
			return
		}
		cur = c
	}
}
