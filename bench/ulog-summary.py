#!/usr/bin/env python3
"""bench/ulog-summary.py RAW: the markdown table of bench/ulog.sh (medians
over the rounds of each workload: the kernel's `disk` log, dm-ulogd's
`clustered-disk` log, the slowdown kernel/ours, and the daemon's load)."""
import statistics
import sys


def fields(line):
    return dict(f.split('=', 1) for f in line.split()[1:] if '=' in f)


def main(path):
    res, dmn, order, rounds = {}, {}, [], set()
    for line in open(path):
        if line.startswith(('RES ', 'DAEMON ')):
            f = fields(line)
            if f['round'] == '0':
                continue  # the profiling run
            rounds.add(f['round'])
            key = (f.get('legs', 'brd'), f['wl'])
            (res if line.startswith('RES ') else dmn).setdefault(key + (f.get('kind', 'ours'),), []).append(f)
            if key not in order:
                order.append(key)
        elif line.startswith('# '):
            print(line.strip())
    med = lambda xs: statistics.median(xs) if xs else float('nan')
    print()
    print('| legs | workload (QD1) | kernel `disk` MB/s | IOPS | log | dm-ulogd MB/s | IOPS | slowdown '
          '| daemon req/s | req/write | daemon CPU µs/req |')
    print('|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|')
    for legs, wl in order:
        k = res.get((legs, wl, 'kernel'), [])
        ki = med([float(x['iops']) for x in k])
        km = med([float(x['mbps']) for x in k])
        for kind, label in (('ours', 'clustered-disk'), ('ours-if', '+ integrated_flush'),
                            ('before', 'clustered-disk, earlier build')):
            o = res.get((legs, wl, kind), [])
            if not o:
                continue
            oi = med([float(x['iops']) for x in o])
            om = med([float(x['mbps']) for x in o])
            d = dmn.get((legs, wl, kind), [])
            rps = med([int(x['req']) / float(x['secs']) for x in d])
            rpw = med([int(x['req']) / max(int(x['ops']), 1) for x in d])
            cpu = med([int(x['cpu_us']) / max(int(x['req']), 1) for x in d])
            print(f'| {legs} | {wl} | {km:.2f} | {ki:.0f} | {label} | {om:.2f} | {oi:.0f} | {ki / oi:.2f}x '
                  f'| {rps:.0f} | {rpw:.2f} | {cpu:.1f} |')
    print()
    print(f'{len(rounds)} rounds, medians; slowdown = kernel IOPS / dm-ulogd IOPS (target <= 1.5x); '
          'MB = 10^6 bytes')


if __name__ == '__main__':
    main(sys.argv[1])
