"""Medians of JMH JSON runs of two versions, side by side: python3 ab_table.py '<base glob>' '<new glob>'."""
import glob
import json
import statistics
import sys


def load(pattern):
    res = {}
    for f in sorted(glob.glob(pattern)):
        for b in json.load(open(f)):
            key = (b['benchmark'].split('.')[-1], int(b['params']['endpoints']))
            r = res.setdefault(key, {'ns': [], 'B': []})
            r['ns'].append(b['primaryMetric']['score'])
            r['B'].append(b['secondaryMetrics']['gc.alloc.rate.norm']['score'])
    return res


base, new = load(sys.argv[1]), load(sys.argv[2])
print('| benchmark | N | base ns/op | new ns/op | new / base | base runs | new runs | base B/op | new B/op |')
print('|---|---:|---:|---:|---:|---|---|---:|---:|')
for key in sorted(set(base) & set(new)):
    b, n = base[key], new[key]
    mb, mn = statistics.median(b['ns']), statistics.median(n['ns'])
    print('| %s | %d | %.1f | %.1f | %.2f | %s | %s | %.0f | %.0f |' % (
        key[0], key[1], mb, mn, mn / mb, ' / '.join('%.1f' % x for x in b['ns']),
        ' / '.join('%.1f' % x for x in n['ns']), statistics.median(b['B']), statistics.median(n['B'])))
