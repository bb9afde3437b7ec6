#!/usr/bin/env python3
"""What a suffix method can know, per position of recorded streams (bench/suffix/suffix_replay record):
whether the context's last token occurred before, whether the target's next token is among the followers
of any earlier match, and whether the longest match's most frequent follower (ties to the most recent) is
right, by match length. docs/suffix.md cites it for the ceiling of the suffix drafter's tau.

  python3 scripts/suffix_ceiling.py STREAMS.jsonl...
"""
import json
import sys
from collections import Counter

streams=[json.loads(l) for f in sys.argv[1:] for l in open(f)]
tot=Counter()
for s in streams:
    P=s['prompt_ids']; O=s['output_ids']
    seq=P+O
    base=len(P)
    for i in range(len(O)-1):
        L=base+i+1  # context length incl pending O[i]
        truth=seq[L]
        # occurrences of last token
        last=seq[L-1]
        occ=[j for j in range(L-1) if seq[j]==last]
        tot['pos']+=1
        if not occ: tot['no_occ']+=1; continue
        # match lengths
        def ml(j):
            m=1
            while m<64 and j-m>=0 and seq[j-m]==seq[L-1-m]: m+=1
            return m
        ms=[(ml(j),j) for j in occ]
        mx=max(ms)[0]
        fol=[seq[j+1] for m,j in ms]
        if truth in fol: tot['truth_among_followers']+=1
        best=[seq[j+1] for m,j in ms if m==mx]
        c=Counter(best)
        top=max(c.items(), key=lambda kv:(kv[1], max(j for m,j in ms if m==mx and seq[j+1]==kv[0])))[0]
        if top==truth: tot['longest_top_right']+=1
        tot['m%d'%min(mx,8)]+=1
        if top==truth: tot['m%d_right'%min(mx,8)]+=1
print(dict(tot))
for k in range(1,9):
    n=tot['m%d'%k]; r=tot['m%d_right'%k]
    print(k, n, r, '%.2f'%(r/max(n,1)))
