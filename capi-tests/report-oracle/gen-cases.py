#!/usr/bin/env python3
"""Writes the report engine's case files (devmapper/tests/fixtures/report/*.case).

The cases are data for report-driver.c (stock's transcript, the goldens) and
for the Rust replay in devmapper/src/report/tests.rs. Run regen.sh afterwards
to refresh the goldens. The case format is described in README.md.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'devmapper', 'tests', 'fixtures', 'report')
DMSETUP = open(os.path.join(HERE, 'dmsetup-fields.txt')).read()

FILES = {}


def E(s):
    """Escapes the argument separator inside an argument."""
    return s.replace('|', '\\|')


def case_file(name, prelude, cases):
    lines = [prelude.rstrip('\n')]
    for cname, body in cases:
        lines.append('case|' + cname)
        lines.append(body.strip('\n'))
    FILES[name] = '\n'.join(lines) + '\n'


# ---------------------------------------------------------------- dmsetup
# field indexes in dmsetup's table
DM_IDX = ['name', 'mangled_name', 'unmangled_name', 'uuid', 'mangled_uuid',
          'unmangled_uuid', 'read_ahead', 'blkdevname', 'attr', 'tables_loaded',
          'suspended', 'readonly', 'devno', 'major', 'minor', 'open', 'segments',
          'events', 'device_count', 'devs_used', 'devnos_used', 'blkdevs_used',
          'device_ref_count', 'names_using_dev', 'devnos_using_dev', 'subsystem',
          'vg_name', 'lv_name', 'lv_layer']


def dmrow(name, uuid, major, minor, open_, segs, events, attr='L--w', ra=256,
          deps=(), users=(), cmd='row'):
    vals = {
        'name': 's:' + name, 'mangled_name': 's:' + name,
        'unmangled_name': 's:' + name, 'uuid': 's:' + uuid,
        'mangled_uuid': 's:' + uuid, 'unmangled_uuid': 's:' + uuid,
        'read_ahead': 'i32:%d' % ra, 'blkdevname': 's:dm-%d' % minor,
        'attr': 's:' + attr,
        'tables_loaded': 'sv:Live', 'suspended': 'sv:Active',
        'readonly': 'sv:Writeable', 'devno': 's:%d:%d' % (major, minor),
        'major': 'i32:%d' % major, 'minor': 'i32:%d' % minor,
        'open': 'i32:%d' % open_, 'segments': 'i32:%d' % segs,
        'events': 'u32:%d' % events, 'device_count': 'i32:%d' % len(deps),
        'devs_used': 's:' + ','.join(deps), 'devnos_used': 's:' + ','.join('7:%d' % i for i, _ in enumerate(deps)),
        'blkdevs_used': 's:' + ','.join('loop%d' % i for i, _ in enumerate(deps)),
        'device_ref_count': 'i32:%d' % len(users), 'names_using_dev': 's:' + ','.join(users),
        'devnos_using_dev': 's:' + ','.join('253:%d' % (i + 9) for i, _ in enumerate(users)),
        'subsystem': 's:' + ('LVM' if uuid.startswith('LVM-') else ''),
        'vg_name': 's:' + (name.split('-')[0] if uuid.startswith('LVM-') else ''),
        'lv_name': 's:' + (name.split('-')[1] if uuid.startswith('LVM-') and '-' in name else ''),
        'lv_layer': 's:',
    }
    return cmd + '|' + '|'.join(vals[k] for k in DM_IDX)


DEVS = [
    dmrow('vg0-root', 'LVM-abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef', 253, 0, 1, 1, 0, deps=['sda2']),
    dmrow('vg0-swap', 'LVM-abcdefABCDEF0123456789abcdefABCDEF0123456789zzzzzz', 253, 1, 2, 1, 0, deps=['sda2']),
    dmrow('luks-2f3c', 'CRYPT-LUKS2-2f3c4d5e6f7081928374655647382910-luks-2f3c', 253, 2, 0, 1, 3, attr='L--w'),
    dmrow('thin', '', 253, 10, 0, 2, 12345, attr='LIsr', ra=0, users=['vg0-root', 'vg0-swap']),
    dmrow('a', '', 7, 5, 12, 1, 1),
]
ROWS = '\n'.join(DEVS)

DMFLAGS = 'aligned,buffered,headings'
INIT = 'initsel|1|%s| |' + DMFLAGS + '|%s|%s'


def dm(opts='name,major,minor,attr,open,segments,events,uuid', keys='-', sel='-',
       sep=' ', flags=DMFLAGS, types=1, extra='', rows=ROWS, init='initsel'):
    if init == 'initsel':
        head = 'initsel|%d|%s|%s|%s|%s|%s' % (types, E(opts), E(sep), flags, E(keys), E(sel))
    else:
        head = 'init|%d|%s|%s|%s|%s' % (types, E(opts), E(sep), flags, E(keys))
    return head + '\n' + extra + rows + '\noutput'


dm_cases = [
    ('info-c default', dm()),
    ('info-c noheadings', dm(sep=':', flags='buffered')),
    ('info-c separator', dm(sep=' | ', flags='buffered,headings')),
    ('info-c nameprefixes', dm(flags='buffered,headings,prefix', extra='prefix|dm_\n')),
    ('info-c nameprefixes unquoted', dm(flags='buffered,headings,prefix,unquoted', extra='prefix|dm_\n')),
    ('info-c nameprefixes noheadings', dm(flags='buffered,prefix', sep=':', extra='prefix|dm_\n')),
    ('info-c rows', dm(flags='aligned,buffered,headings,rows')),
    ('info-c rows noheadings', dm(flags='buffered,rows', sep=':')),
    ('info-c rows sep', dm(flags='buffered,headings,rows', sep=';')),
    ('info-c unbuffered', dm(flags='aligned,headings')),
    ('info-c unbuffered noheadings', dm(flags='aligned')),
    ('o name', dm(opts='name')),
    ('o name,uuid', dm(opts='name,uuid')),
    ('o uuid,name repeated', dm(opts='uuid,name,name')),
    ('o consecutive commas', dm(opts=',,name,,,minor')),
    ('o trailing comma', dm(opts='name,')),
    ('o empty', dm(opts='')),
    ('o all', dm(opts='all', types=0)),
    ('o all types1', dm(opts='all')),
    ('o name_all', dm(opts='name_all')),
    ('o info_all', dm(opts='info_all')),
    ('o NAME_ALL uppercase', dm(opts='NAME_ALL')),
    ('o splitname_all', dm(opts='splitname_all')),
    ('o name prefix', dm(opts='name_name,name_uuid')),
    ('o info prefix on task type', dm(opts='info_major')),
    ('o info prefix with types 2', dm(opts='info_major,info_open', types=2)),
    ('o underscores', dm(opts='mangled_name,mangledname,m_a_n_g_l_e_d_n_a_m_e')),
    ('o case', dm(opts='NAME,Major,uUiD')),
    ('o unknown', dm(opts='name,bogus')),
    ('o unknown first', dm(opts='bogus')),
    ('o unknown no selection', dm(opts='nope', init='init')),
    ('o too long', dm(opts='name,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,uuid')),
    ('o help', dm(opts='help')),
    ('o ?', dm(opts='?')),
    ('o name,help', dm(opts='name,help')),
    ('o help init', dm(opts='help', init='init')),
    ('o selected', dm(opts='name,selected', sel='open>0')),
    ('o selected hidden sort', dm(opts='name', keys='selected', sel='open>0')),
    ('O name', dm(keys='name')),
    ('O -name', dm(keys='-name')),
    ('O +minor', dm(keys='+minor')),
    ('O -open,name', dm(keys='-open,name')),
    ('O events,-minor', dm(keys='events,-minor')),
    ('O uuid (hidden key)', dm(opts='name', keys='uuid')),
    ('O unknown', dm(keys='name,nokey')),
    ('O missing name', dm(keys='name,-')),
    ('O duplicate', dm(keys='name,name')),
    ('O empty item', dm(keys='name,,minor')),
    ('O trailing comma', dm(keys='minor,')),
    ('O unbuffered', dm(keys='-minor', flags='aligned,headings')),
    ('S name=vg0-root', dm(sel='name=vg0-root')),
    ('S name!=vg0-root', dm(sel='name!=vg0-root')),
    ('S open>0', dm(sel='open>0')),
    ('S open>=1 && minor<10', dm(sel='open>=1 && minor<10')),
    ('S open=0 || major=7', dm(sel='open=0 || major=7')),
    ('S regex', dm(sel='name=~^vg0')),
    ('S not regex', dm(sel='name!~"^vg0"')),
    ('S uuid regex LVM', dm(sel='uuid=~LVM')),
    ('S hidden field', dm(opts='name', sel='events>100')),
    ('S all', dm(sel='all')),
    ('S ALL', dm(sel='ALL')),
    ('S help', dm(sel='help')),
    ('S ?', dm(sel='?')),
    ('S HELP', dm(sel='HELP')),
    ('S unknown field', dm(sel='nofield=1')),
    ('S selected', dm(opts='name,selected', sel='name=~root')),
    ('S attr', dm(sel='attr=LIsr')),
    ('S name quoted', dm(sel='name="vg0-swap"')),
    ('S name single quoted', dm(sel="name='a'")),
    ('S no match', dm(sel='name=nothing')),
    ('S not paren', dm(sel='!(open>0)')),
    ('S precedence', dm(sel='open=0 || major=7 && minor=5')),
    ('S precedence parens', dm(sel='(open=0 || major=7) && minor=5')),
    ('S hash comma', dm(sel='open=0 # minor=5, major=7')),
    ('S unbuffered', dm(sel='open>0', flags='aligned,headings')),
    ('S rows', dm(sel='open>0', flags='buffered,headings,rows')),
    ('S with sort', dm(sel='major=253', keys='-minor')),
    ('splitname', dm(opts='vg_name,lv_name,lv_layer', types=16)),
    ('tree fields', dm(opts='name,devs_used,names_using_dev,device_ref_count', types=8)),
    ('deps fields', dm(opts='name,device_count,devnos_used,blkdevs_used', types=4)),
    ('info fields', dm(opts='name,blkdevname,tables_loaded,suspended,readonly,devno,read_ahead')),
]
case_file('01-dmsetup.case', DMSETUP, dm_cases)

# ---------------------------------------------------------------- dmstats

def strow(name, gid, rid, area, start, length, counters, cmd='row'):
    # fields 0..28 are dmsetup's (task/info/..); stats fields follow
    specs = ['s:' + name] + ['fail'] * 28
    stats_ids = ['read_count', 'reads_merged_count', 'read_sector_count', 'read_time',
                 'write_count', 'writes_merged_count', 'write_sector_count', 'write_time',
                 'in_progress_count', 'io_ticks', 'queue_ticks', 'read_ticks', 'write_ticks',
                 'reads_merged_per_sec', 'writes_merged_per_sec', 'reads_per_sec',
                 'writes_per_sec', 'read_size_per_sec', 'write_size_per_sec',
                 'avg_request_size', 'queue_size', 'await', 'read_await', 'write_await',
                 'throughput', 'service_time', 'util', 'hist_count', 'hist_count_bounds',
                 'hist_count_ranges', 'hist_percent', 'hist_percent_bounds',
                 'hist_percent_ranges', 'interval_ns', 'interval',
                 'region_id', 'region_start', 'region_len', 'area_id', 'area_start',
                 'area_len', 'area_offset', 'area_count', 'group_id', 'program_id',
                 'user_data', 'precise', 'hist_bins', 'hist_bounds', 'hist_ranges',
                 'stats_name', 'obj_type']
    v = {}
    for i, k in enumerate(stats_ids[:13]):
        v[k] = 'u64:%d' % counters[i % len(counters)]
    for k in stats_ids[13:27]:
        v[k] = 'svd:%d.5:%d.50' % (counters[0] % 97, counters[0] % 97)
    v['util'] = 'svd:%d:%d.00' % (counters[1] % 100, counters[1] % 100)
    for k in stats_ids[27:33]:
        v[k] = 's:0:%d' % counters[2]
    v['interval_ns'] = 'u64:1000000000'
    v['interval'] = 'svd:1:1.00'
    v['region_id'] = 'svu:%d:%d' % (rid, rid)
    v['region_start'] = 'svd:%d:%ds' % (start, start)
    v['region_len'] = 'svd:%d:%.2fm' % (length, length / 2048.0)
    v['area_id'] = 'u64:%d' % area
    v['area_start'] = 'svd:%d:%ds' % (start, start)
    v['area_len'] = 'svd:%d:%.2fm' % (length, length / 2048.0)
    v['area_offset'] = 'svd:0:0'
    v['area_count'] = 'u64:1'
    v['group_id'] = 'svu:%d:%s' % (gid, '-' if gid == 2**64 - 1 else str(gid))
    v['program_id'] = 's:dmstats'
    v['user_data'] = 's:'
    v['precise'] = 's:0'
    v['hist_bins'] = 's:0'
    v['hist_bounds'] = 's:'
    v['hist_ranges'] = 's:'
    v['stats_name'] = 's:' + name
    v['obj_type'] = 's:region'
    specs += [v[k] for k in stats_ids]
    return cmd + '|' + '|'.join(specs)


SROWS = '\n'.join([
    strow('vg0-root', 2**64 - 1, 0, 0, 0, 41943040, [120, 3, 4096, 77]),
    strow('vg0-root', 2**64 - 1, 1, 0, 41943040, 2048, [5, 50, 40, 9]),
    strow('vg0-swap', 0, 0, 0, 0, 8388608, [0, 0, 0, 0]),
    strow('luks-2f3c', 0, 2, 0, 1024, 1024, [99999, 12, 7, 1]),
])
STATS_DEV_INFO = 'statsname,group_id,region_id,obj_type'
STATS_AREA_INFO = 'area_id,area_start,area_len'
METRICS = ('reads_merged_per_sec,writes_merged_per_sec,reads_per_sec,writes_per_sec,'
           'read_size_per_sec,write_size_per_sec,avg_request_size,queue_size,util,'
           'await,read_await,write_await')
COUNTERS = ('read_count,reads_merged_count,read_sector_count,read_time,read_ticks,'
            'write_count,writes_merged_count,write_sector_count,write_time,write_ticks,'
            'in_progress_count,io_ticks,queue_ticks')
DEFAULT = STATS_DEV_INFO + ',' + STATS_AREA_INFO + ',' + METRICS
RAW = STATS_DEV_INFO + ',' + STATS_AREA_INFO + ',' + COUNTERS
LIST = STATS_DEV_INFO + ',region_start,region_len,area_count,area_len,program_id'


def st(opts=DEFAULT, keys='-', sel='-', flags=DMFLAGS, types=32, sep=' '):
    return 'initsel|%d|%s|%s|%s|%s|%s\n%s\noutput' % (types, opts, E(sep), flags, E(keys), E(sel), SROWS)


stats_cases = [
    ('report default', st()),
    ('report raw', st(opts=RAW)),
    ('list', st(opts=LIST, types=64)),
    ('report sorted', st(keys='statsname,-region_id')),
    ('report sort size', st(keys='-region_len')),
    ('report select size', st(sel='region_len > 1g')),
    ('report select size units', st(sel='region_len >= 4096k && region_start < 21g')),
    ('report select size default unit', st(sel='region_len = 1')),
    ('report select decimal units', st(sel='region_len > 1G')),
    ('report select sectors', st(sel='area_start = 41943040s')),
    ('report select group', st(sel='group_id=0')),
    ('report select counters', st(opts=RAW, sel='read_count > 100 || write_count = 0')),
    ('report select util', st(sel='util > 10')),
    ('report json', 'initsel|32|%s| |%s|-|-\ngroup|2\npush|0|Stats\n%s\npopall' % (DEFAULT, DMFLAGS, SROWS)),
    ('report noheadings', st(sep=':', flags='buffered')),
    ('report rows', st(flags='buffered,headings,rows')),
    ('list help', st(opts='help', types=64)),
    ('region prefix', st(opts='region_region_id,region_area_count', types=64)),
    ('stats prefix', st(opts='stats_read_count,stats_interval', types=32)),
]
case_file('02-dmstats.case', DMSETUP, stats_cases)

# ---------------------------------------------------------------- value types
TPRE = '''type|1|Things|thing_
type|2|Other Things|other_
field|1|0x10|4|str|Str|A string.
field|1|0x20|3|num|Num|A number.
field|1|0x40|4|size|Size|A size.
field|1|0x80|6|pct|Pct%|A percentage.
field|1|0x100|5|list|List|A string list.
field|1|0x200|4|time|Time|A time.
field|1|0x11|4|lstr|LStr|Left aligned string.
field|1|0x12|4|rstr|RStr|Right aligned string.
field|1|0x21|3|lnum|LNum|Left aligned number.
field|2|0x20|5|onum|ONum|A number of another type.
field|2|0x10|0|ostr|OStr|A zero-width string.
field|1|0x14|4|oddalign|Odd|Align bits 0x4.
'''


def trow(s='x', n='i:1', size='svd:2048:1.00m', pct='p:50000000', lst='l:-:,a,b',
         t='svt:100:100', ls='s:l', rs='s:r', ln='i:2', on='u64:3', os_='s:o', odd='s:odd', cmd='row'):
    return '|'.join([cmd, 's:' + E(s), n, size, pct, lst, t, ls, rs, ln, on, os_, odd])


def ty(opts, body, flags='aligned,buffered,headings', keys='-', sel='-', sep=' ', types=0):
    return 'initsel|%d|%s|%s|%s|%s|%s\n%s\noutput' % (types, opts, E(sep), flags, E(keys), E(sel), body)


ALLF = 'str,num,size,pct,list,time,lstr,rstr,lnum,onum,ostr'
type_cases = [
    ('int values', ty('num', '\n'.join(trow(n='i:%s' % v) for v in ['0', '-1', '2147483647', '-2147483648', '42']))),
    ('int32 values', ty('num', '\n'.join(trow(n='i32:%s' % v) for v in ['0', '-5', '2147483647']))),
    ('uint32 values', ty('num', '\n'.join(trow(n='u32:%s' % v) for v in ['0', '4294967295', '7']))),
    ('uint64 values', ty('num', '\n'.join(trow(n='u64:%s' % v) for v in ['0', '18446744073709551615', '1099511627776']))),
    ('int sort negative', ty('num', '\n'.join(trow(n='i:%s' % v) for v in ['5', '-1', '0', '-7', '3']), keys='num')),
    ('uint64 sort', ty('num', '\n'.join(trow(n='u64:%s' % v) for v in ['5', '18446744073709551615', '0', '4294967296']), keys='-num')),
    ('percent values', ty('pct', '\n'.join(trow(pct='p:%s' % v) for v in
                                             ['0', '1', '9999', '10000', '10001', '50000000', '99990000', '99990001',
                                              '99999999', '100000000', '-1', '33333333', '66666667', '123456',
                                              '-5', '-2']))),
    ('percent too large', ty('pct', trow(pct='p:1000000000'))),
    ('percent too large negative', ty('pct', trow(pct='p:-100000000'))),
    ('percent 999', ty('pct', trow(pct='p:999000000'))),
    ('percent sort', ty('pct', '\n'.join(trow(pct='p:%s' % v) for v in ['5000000', '100000000', '0', '256', '65536']), keys='pct')),
    ('list sorted', ty('list', '\n'.join(trow(lst='l:-:' + v) for v in [',c,b,a', ',one', '', ',', ',x,,y', ',b,a,b']))),
    ('list unsorted', ty('list', '\n'.join(trow(lst='lu:-:' + v) for v in [',c,b,a', ',one', '', ',z,y']))),
    ('list delimiter', ty('list', '\n'.join(trow(lst=v) for v in ['l:; :,c,b,a', 'lu:+:,c,b,a', 'l::,q,p']))),
    ('setvalue string sort', ty('str', '\n'.join(trow(s='x') .replace('s:x', 'svu:%d:%s' % (n, t), 1) for n, t in [(3, 'c'), (1, 'a'), (2, 'b')]), keys='str')),
    ('setvalue number warn', ty('num', trow(n='sv:12'))),
    ('setvalue number with sort', ty('num', '\n'.join(trow(n='svu:%d:n%d' % (v, v)) for v in [3, 1, 2]), keys='num')),
    ('size values', ty('size', '\n'.join(trow(size='svd:%s:%s' % (v, d)) for v, d in [('1024', '512.00k'), ('0', '0'), ('3.5', '1.75k'), ('1e9', 'big')]), keys='size')),
    ('time values', ty('time', '\n'.join(trow(t='svt:%d:%s' % (v, d)) for v, d in [(100, 'a'), (-5, 'b'), (0, 'c'), (1700000000, 'd')]), keys='time')),
    ('alignment', ty(ALLF, '\n'.join([trow(), trow(s='longer string', n='i:123456', ls='s:lllllll', rs='s:rrrrrrr', ln='i:1234', os_='s:xyz')]))),
    ('alignment odd bits', ty('str,oddalign,num', trow())),
    ('zero width', ty('ostr,onum', trow(os_='s:') + '\n' + trow(os_='s:'))),
    ('zero width heading cut', ty('ostr', trow(os_='s:ab'))),
    ('headings not aligned', ty(ALLF, trow(), flags='buffered,headings')),
    ('no headings aligned', ty(ALLF, trow(), flags='aligned,buffered')),
    ('unbuffered widths', ty('str,num', '\n'.join([trow(s='a', n='i:1'), trow(s='verylongname', n='i:123456'), trow(s='b', n='i:2')]), flags='aligned,headings')),
    ('unbuffered no headings', ty('str,num', '\n'.join([trow(s='verylongname'), trow(s='b')]), flags='aligned')),
    ('json escaping', 'initsel|0|str,list| |buffered|-|-\ngroup|2\npush|0|things\n' + trow(s='a"b\\\\c', lst='l:-:,x"y,z') + '\n' + trow(s='quote""') + '\npopall'),
    ('prefix quoting', ty('str,num', trow(s="it's \"q\""), flags='buffered,prefix') .replace('\nrow', '\nprefix|x_\nrow', 1)),
    ('prefix lowercase', ty('str,num', trow(), flags='buffered,prefix').replace('\nrow', '\nprefix|my_pre\nrow', 1)),
    ('prefix aligned', ty('str,num', trow(), flags='aligned,buffered,prefix').replace('\nrow', '\nprefix|p_\nrow', 1)),
    ('data fn null', 'type|3|Nulls|null_|nulldata\nfield|3|0x10|4|nul|Nul|No data.\ninitsel|0|str,nul| |buffered|-|-\n' + trow() + '\noutput'),
    ('report fn fails', ty('str,num', trow(n='fail'))),
    ('report fn fails rowsel', ty('str,num', trow(n='fail', cmd='rowsel|1'))),
    ('type prefix all', ty('thing_all', trow())),
    ('other_all', ty('other_all', trow())),
    ('all no prefix', ty('all', trow())),
    ('all prefix types1', ty('all', trow(), types=1)),
    ('prefixed ids types1', ty('thing_str,thingnum,num', trow(), types=1)),
    ('prefixed ids types 3', ty('thing_str', trow(), types=3)),
    ('help with types', ty('help', trow(), types=1)),
    ('reserved type id', 'type|0x80000000|Bad|bad_\ninit|0|str| |buffered|-'),
    ('field of unknown type', 'field|64|0x10|4|lost|Lost|Type 64 is undefined.\ninitsel|0|str,lost| |buffered|-|-'),
    ('separator multi', ty('str,num,list', trow(), flags='buffered', sep='<->')),
    ('init plain then initsel', 'init|0|str,selected| |buffered|-\ninitsel|0|str| |buffered|-|-\ninit|0|str,selected| |buffered|-\n' + trow() + '\noutput'),
]
case_file('03-types.case', TPRE, type_cases)

# ---------------------------------------------------------------- selection operators
def sel(expr, opts='str,num,size,pct,list,time', rows=None, flags='buffered', keys='-'):
    if rows is None:
        rows = SELROWS
    return 'initsel|0|%s|,|%s|%s|%s\n%s\noutput' % (opts, flags, E(keys), E(expr), rows)


SELROWS = '\n'.join([
    trow(s='alpha', n='i:1', size='svd:2048:1.00m', pct='p:0', lst='l:-:,a,b', t='svt:1704067200:2024-01-01'),
    trow(s='beta', n='i:20', size='svd:4194304:2.00g', pct='p:50000000', lst='l:-:,b', t='svt:1717243200:2024-06-01T12'),
    trow(s='gamma', n='i:300', size='svd:0:0', pct='p:100000000', lst='l:-:', t='svt:0:1970'),
    trow(s='delta epsilon', n='u64:18446744073709551615', size='svd:1.5:768', pct='p:-1', lst='l:-:,c,a,b', t='svt:1709251199:2024-02-29T23:59:59'),
    trow(s='', n='i:-3', size='svd:512:256k', pct='p:25500000', lst='l:-:,', t='svt:1709251200:2024-03-01'),
])

sel_exprs = [
    'str=alpha', 'str!=alpha', 'str=""', "str=''", 'str="delta epsilon"', 'str=delta', 'str=~^a', 'str=~a$',
    'str=~l', 'str!~l', 'str=~(alpha|beta)', 'str=~{gam}', 'str=~[ab]', 'str=~"^$"',
    'num=1', 'num!=1', 'num>1', 'num>=20', 'num<20', 'num<=20', 'num=18446744073709551615',
    'num>18446744073709551614', 'num=1.9', 'num = 20', 'num  >=  1 && num <= 300',
    'size=1m', 'size=1', 'size>1g', 'size>=2g', 'size<1k', 'size=2G', 'size<=256k', 'size=512b',
    'size=768s', 'size=0', 'size>0.5', 'size=2048s', 'size=1.5m', 'size=1t', 'size<1e', 'size>1p', 'size=2048h',
    'size<1K', 'size<1M', 'size<1T', 'size<1P', 'size<1E', 'size=1r', 'size=1R', 'size=1H', 'size=1S', 'size=1B',
    'pct=0', 'pct=50', 'pct=50%', 'pct>25', 'pct>=25.5', 'pct<100', 'pct<=100%', 'pct!=0', 'pct=100', 'pct>0.000001',
    'list=a', 'list=b', 'list=[a,b]', 'list=[b,a]', 'list=[a]', 'list=[a&&b]', 'list=[a||b]', 'list=[a#c]',
    'list={a}', 'list={a,b}', 'list={b,c}', 'list={a#z}', 'list={z}', 'list=[]', 'list=""', 'list=[""]', 'list={""}',
    'list!=[a,b]', 'list!={a}', 'list=["a", \'b\']', 'list=[ a , b ]', 'list={a,b,c}', 'list=[a,b,c]', 'list=[c,b,a]',
    'list={c,a}', 'list={a,a}', 'list=[a,a]', 'list=["a b"]',
    'time=2024-01-01', 'time>2024-01-01', 'time>=2024-01-01', 'time<2024', 'time since 2024-03-01',
    'time after 2024-03-01', 'time until 2024-03-01', 'time before 2024-03-01', 'time=@0', 'time=@1709251200',
    'time>@1704067200', 'time=2024', 'time=2024-02', 'time=202402', 'time=20240229', 'time="2024-02-29 23:59:59"',
    'time="2024-02-29 23:59"', 'time="2024-02-29 23"', 'time="2024-02-29 2359"', 'time="2024-02-29 235959"',
    'time="2024-06-01 12"', 'time="2024-06-01 12:00:00 +00:00"', 'time="2024-06-01 14:00:00 +02:00"',
    'time="2024-06-01 13 +0100"', 'time="2024-06-01 07 -05"', 'time!=2024-01-01', 'time!=2024', 'time=1970',
    'time=1970-01-01', 'time="1970-01-01 00:00:00"', 'time=2024-01', 'time=2024-03', 'time=2024-05-31',
    'time=2024-12-31', 'time=2024-12', 'time=2023-12-31', 'time=2024-01-31', 'time=2024-01-15',
    'time="2024-02-29 23:59:59" || time="2024-03-01"',
    'str=alpha || num=20', 'str=alpha && num=20', 'str=alpha, num=1', 'str=beta # num=300', '!(str=alpha)',
    '!(str=alpha || str=beta)', '!(!(str=alpha))', '(str=alpha)', '((str=alpha))', ' str=alpha ', '(str=alpha || str=beta) && num>1',
    'str=alpha || str=beta && num>1', '!(num>1) && !(num<0)', 'num>1&&num<300', 'str=alpha||str=gamma', 'str=alpha#str=gamma,num=300',
    'selected=1', 'selected=0', 'str=alpha && selected=1',
]
sel_cases = [('S ' + e, sel(e)) for e in sel_exprs]
sel_cases += [
    ('S selected field shown', sel('num>1', opts='str,selected')),
    ('S selected field hidden key', sel('num>1', opts='str', keys='selected')),
    ('S selected sorted', sel('num>1', opts='str,num,selected', keys='-selected,str')),
    ('S not in report set', 'initsel|0|str|,|buffered|-|-\n' + SELROWS + '\nsetsel|num>1\noutput'),
    ('S set selection reevaluates', 'initsel|0|str,num,selected|,|buffered|-|str=alpha\n' + SELROWS + '\nsetsel|num>1\noutput'),
    ('S set selection bad keeps none', 'initsel|0|str,num|,|buffered|-|str=alpha\n' + SELROWS + '\nsetsel|num>>\noutput'),
    ('S set selection all', 'initsel|0|str,num|,|buffered|-|str=alpha\n' + SELROWS + '\nsetsel|all\noutput'),
    ('S set selection null', 'initsel|0|str,num|,|buffered|-|str=alpha\n' + SELROWS + '\nsetsel|-\noutput'),
    ('S set selection on init report', 'init|0|str,num|,|buffered|-\n' + SELROWS + '\nsetsel|num>1\noutput'),
    ('S multiple times', 'initsel|0|str,num|,|buffered,multiple|-|num>1\n' + SELROWS + '\noutput\nsetsel|num<100\noutput\nsetsel|str=~a\noutput\ndestroyrows\noutput'),
    ('S multiple times json', 'initsel|0|str,num| |buffered,multiple|-|num>1\ngroup|2\npush|0|r\n' + SELROWS + '\noutput\npopall'),
    ('S rowsel no output', 'initsel|0|str,num|,|buffered|-|num>1\n' + SELROWS.replace('row|', 'rowsel|0|') + '\noutput'),
    ('S rowsel output', 'initsel|0|str,num|,|buffered|-|num>1\n' + SELROWS.replace('row|', 'rowsel|1|') + '\noutput'),
    ('S rowsel unbuffered', 'initsel|0|str,num|,|none|-|num>1\n' + SELROWS.replace('row|', 'rowsel|1|') + '\noutput'),
    ('S rowsel selected field', 'initsel|0|str,selected|,|buffered|-|num>1\n' + SELROWS.replace('row|', 'rowsel|1|') + '\noutput'),
    ('S rowsel no selection', 'initsel|0|str|,|buffered|-|-\n' + SELROWS.replace('row|', 'rowsel|0|')),
]
case_file('04-select.case', TPRE, sel_cases)

# ---------------------------------------------------------------- selection errors
err_exprs = [
    '=1', '1', '!', '!str=a', '(str=a', '(str=a || ', 'str=a)', 'str=a num=1', 'str=a &&', 'str=a ||', '&&str=a',
    'str', 'str<>a', 'str<a', 'str>a', 'str since 2024', 'num since 2024', 'num=abc', 'num=', 'num=-1',
    'num=1k', 'num=5%', 'num=99999999999999999999', 'size=5%', 'size=abc', 'size=1x', 'pct=1k', 'pct=101',
    'pct=abc', 'pct=100.5%', 'str="abc', "str='abc", 'str=~', 'str=~"abc', 'str=~(abc', 'str=~[abc', 'str=~{abc',
    'str=~(a', 'str=~a|', 'str=~"(a"', 'str=~"a)"', 'str=~"[a"', 'str=~"a\\\\"', 'str=~"|a"', 'str=~"*"', 'str=~"a**"',
    'str=~"()"', 'str=~"a||b"', 'num=~1', 'list=~a', 'time=~a', 'list=[a', 'list=[a,b', 'list=[a,b}', 'list={a]',
    'list=[a,b#c]', 'list=[a b]', 'list="a', 'list=[a,"b]', 'list=[', 'list={', 'time=abc', 'time=2024-13',
    'time=2024-02-30', 'time=2023-02-29', 'time=12345', 'time=2024-1', 'time="2024-01-01 25"', 'time="2024-01-01 10:61"',
    'time="2024-01-01 10:30:61"', 'time="2024-01-01 1"', 'time="2024-01-01 10:3"', 'time="2024 10:00"',
    'time="2024-01-01 10:00 +15"', 'time="2024-01-01 10:00 +1"', 'time="2024-01-01 10:00 x"', 'time=@', 'time=@abc',
    'time=@99999999999999999999', 'time>abc', 'time=2024-01-01 10:00', 'selected=x', 'help=1', '?=1', 'nosuch=1',
    'str=a && nosuch=1', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1', 'str=a,,num=1', 'str=a,', '!(str=a', '!((str=a)',
    '(!(str=a)', 'str=a ) ', 'str==a', 'str=!a', 'str =~ ', 'str!', 'num<', 'num<=', 'time since', 'str=~""',
    'str="a"b', 'num=1 2', 'str=a\\tnum=1', 'str=a\\tb',
]
err_cases = [('E ' + e, 'initsel|0|str,num,size,pct,list,time|,|buffered|-|%s\n%s\noutput' % (E(e), SELROWS)) for e in err_exprs]
err_cases += [
    ('E set selection no add', 'initsel|0|str|,|buffered|-|-\nsetsel|num=1'),
    ('E set selection unknown', 'initsel|0|str|,|buffered|-|-\nsetsel|zzz=1'),
    ('E set selection help', 'initsel|0|str|,|buffered|-|-\nsetsel|help'),
    ('E compact given unknown', 'initsel|0|str|,|buffered|-|-\n' + SELROWS + '\ncompactgiven|str,nope'),
]
case_file('05-select-errors.case', TPRE, err_cases)

# ---------------------------------------------------------------- regex dialect
RX_SUBJECTS = ['abc', 'aXc', 'a.c', 'ac', 'abbbc', 'xyz', '', 'a\\nb', 'A-B', 'tab\\there', 'a|b', '(paren)',
               '[br]', 'dollar$', '^hat', 'back\\\\slash', 'caf\\xc3\\xa9', 'x\\x02y', 'x\\x03y']
RX_PATTERNS = ['abc', '^abc$', 'a.c', 'a\\.c', 'ab*c', 'ab+c', 'ab?c', '^a', 'c$', '^$', '.', '^.$', 'x*', '[abc]',
               '[^abc]', '[a-c]', '[c-a]', '[-a]', '[a-]', '[\\\\n]', 'a\\\\nb', '\\\\t', 'a|x', '(a|x)(b|y)', '(ab)+c', '(a(b)c)',
               'A-B', '[A-Z]-[A-Z]', '\\\\(', '\\\\)', '\\\\[', '\\\\|', '\\\\$', '\\\\^', '\\\\\\\\', 'y$', '^x.y$', 'a.*c', '.*',
               'b{1}', '[.]', '[*+?]', 'caf', '\\xc3', '^(abc|xyz)$', '(^a|z$)', 'a^b', 'a$b', 'ab|', '|ab']
rx_rows = '\n'.join(trow(s=sv) for sv in RX_SUBJECTS)
rx_cases = [('R ' + p, "initsel|0|str|,|buffered|-|str=~'%s'\n%s\noutput" % (E(p), rx_rows)) for p in RX_PATTERNS]
rx_cases += [('R not ' + p, "initsel|0|str|,|buffered|-|str!~'%s'\n%s\noutput" % (E(p), rx_rows)) for p in ['abc', '^a', '^$']]
rx_cases += [
    ('R unquoted stops at space', 'initsel|0|str|,|buffered|-|str=~a c\n%s\noutput' % rx_rows),
    ('R paren quoted', 'initsel|0|str|,|buffered|-|str=~(ab\\|x)\n%s\noutput' % rx_rows),
    ('R brace quoted', 'initsel|0|str|,|buffered|-|str=~{b+}\n%s\noutput' % rx_rows),
    ('R bracket quoted', 'initsel|0|str|,|buffered|-|str=~[bc]\n%s\noutput' % rx_rows),
    ('R on sort value', 'initsel|0|str|,|buffered|-|str=~^z\n' + trow(s='a').replace('s:a', 'svu:122:a', 1) + '\noutput'),
]
case_file('06-regex.case', TPRE, rx_cases)

# ---------------------------------------------------------------- reserved values
RPRE = TPRE + '''reserved|0x20|0|u:18446744073709551615|Undefined number.|undefined|undef|-1
reserved|0x21|0|u:0|Named zero (weak).|zero
reserved|0x22|0|u:100:199|A number range.|hundreds
reserved|0x40|0|d:0|No size.|nosize
reserved|0x42|0|d:1024:2048|Size range.|smallish
reserved|0x80|0|u:50000000|Half.|half
reserved|0x200|0|t:0|Epoch.|epoch|never
reserved|0x202|0|t:1704067200:1735689599|Year 2024.|y2024
reserved|0x10|0|s:unknown|Unknown string.|unknown|?
reserved|0x00|1|u:20|Twenty, for num only.|twenty
reserved|0x00|3|u:1000000|Field-specific, pct.|one
reserved|0x2c|0|h|Dynamic and fuzzy numbers.|dyn|dynerr|dynnot|dynnull
reserved|0x4c|0|h|Dynamic sizes.|dsize
reserved|0x20c|0|h|Dynamic times.|dtime
reserved|0x1c|0|h|Dynamic strings.|dstr
'''
RROWS = '\n'.join([
    trow(s='alpha', n='i:1', size='svd:1536:768k', pct='p:50000000', t='svt:0:never'),
    trow(s='unknown', n='u64:18446744073709551615', size='svd:0:0', pct='p:1000000', t='svt:1704067200:2024'),
    trow(s='beta', n='i:150', size='svd:4096:2m', pct='p:0', t='svt:1000:x'),
    trow(s='gamma', n='i:20', size='svd:3000:1.5m', pct='p:100000000', t='svt:1500:y'),
    trow(s='dynstr', n='i:5', size='svd:2048:1m', pct='p:7', t='svt:3000000000:z'),
])
res_exprs = ['num=undefined', 'num=undef', 'num=-1', 'num!=undefined', 'num>1', 'num<undefined', 'num=zero', 'num>zero',
             'num=hundreds', 'num!=hundreds', 'num>hundreds', 'num<hundreds', 'num>=hundreds', 'num<=hundreds',
             'num=150', 'num=18446744073709551615', 'num=100', 'num=twenty', 'size=nosize', 'size>nosize', 'size=smallish',
             'size>smallish', 'size<=smallish', 'size=0', 'size=1m', 'size>0', 'pct=half', 'pct>half', 'pct=one',
             'time=epoch', 'time=never', 'time>epoch', 'time=y2024', 'time>y2024', 'time<y2024', 'time!=y2024',
             'str=unknown', 'str="unknown"', 'str=?', 'str!=unknown', 'str=~unknown', 'str=x', 'num="undefined"',
             "num='hundreds'", 'num=dyn', 'num=dynerr', 'num=dynnot', 'num=dynnull', 'num=fzany', 'num=fzerr', 'num=fznot',
             'num=nomatch', 'size=dsize', 'size>dsize', 'str=dstr', 'str=fzwhatever',
             'pct=dyn', 'pct>dyn', 'num=dyn && str=dstr', 'num=undefined || num=twenty', 'num=1k', 'pct=50%', 'num=20']
res_cases = [('V ' + e, 'initsel|0|str,num,size,pct,time|,|buffered|-|%s\n%s\noutput' % (E(e), RROWS)) for e in res_exprs]
res_cases += [
    ('V help', 'initsel|0|str|,|buffered|-|help'),
    ('V help no reserved', 'initsel|0|str|,|buffered|-|help|noreserved'),
    ('V not used without selection', 'initsel|0|str,num|,|buffered|-|-\n%s\nsetsel|num=undefined\noutput' % RROWS),
    ('V set selection', 'initsel|0|str,num|,|buffered|-|num=1\n%s\nsetsel|num=undefined\noutput' % RROWS),
]
case_file('07-reserved.case', RPRE, res_cases)

BADRES = [
    ('reserved string range', 'reserved|0x12|0|s:x|Bad.|x'),
    ('reserved list', 'reserved|0x100|0|s:x|Bad.|x'),
    ('reserved field list', 'reserved|0x0|4|s:x|Bad.|x'),
    ('reserved field time range', 'reserved|0x2|5|t:1:2|Range.|r'),
    ('reserved help stops at type 0', 'reserved|0x20|0|u:1|A.|a\nreserved|0x0|1|u:2|B.|b\nreserved|0x20|0|u:3|C.|c'),
    ('reserved help unknown type name', 'reserved|0x22|0|u:1:2|Range.|r1|r2\nreserved|0x41|0|d:1|Named size.|ns'),
]
bad_cases = []
for name, res in BADRES:
    bad_cases.append((name, res + '\ninitsel|0|str,num|,|buffered|-|num=x\n' + trow() + '\noutput'))
    bad_cases.append((name + ' help', res + '\ninitsel|0|str,num|,|buffered|-|help'))
    bad_cases.append((name + ' use', res + '\ninitsel|0|str,num,time|,|buffered|-|num=a \\|\\| time=r\n' + trow() + '\noutput'))
case_file('08-reserved-support.case', TPRE, bad_cases)

# ---------------------------------------------------------------- groups
GPRE = TPRE
R2 = '\n'.join([trow(s='one', n='i:1'), trow(s='two', n='i:2')])
g_cases = [
    ('single', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ngroup|0\npush|0|-\n' + R2 + '\noutput\npop\ngroupdestroy'),
    ('single two reports', 'initsel|0|str| |buffered|-|-\ninitsel|0|num| |buffered|-|-\ngroup|0\npush|0|-\npush|1|-\npopall'),
    ('single popall', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ngroup|0\npush|0|-\n' + R2 + '\npopall'),
    ('basic', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ninitsel|0|num| |aligned,buffered,headings|-|-\ngroup|1\npush|0|First\nuse|0\n' + R2 + '\noutput\npop\npush|1|Second\nuse|1\n' + R2 + '\noutput\npop\ngroupdestroy'),
    ('basic empty', 'initsel|0|str| |buffered|-|-\ngroup|1\npush|0|Empty\noutput\npop\npopall'),
    ('basic unbuffered multiple', 'initsel|0|str| |multiple|-|-\ngroup|1\npush|0|U\n' + R2 + '\npop\npopall'),
    ('basic object break', 'initsel|0|str| |buffered|-|-\ngroup|1\npush|-|-\npush|0|A\n' + R2 + '\noutput\npop\npop\npush|-|-\npush|0|B\n' + R2 + '\noutput\npop\npop\npopall'),
    ('json', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ngroup|2\npush|0|things\n' + R2 + '\noutput\npop\ngroupdestroy'),
    ('json popall', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ngroup|2\npush|0|things\n' + R2 + '\npopall'),
    ('json two reports', 'initsel|0|str| |buffered|-|-\ninitsel|0|num| |buffered|-|-\ngroup|2\npush|0|a\nuse|0\n' + R2 + '\noutput\npop\npush|1|b\nuse|1\n' + R2 + '\noutput\npop\npopall'),
    ('json empty report', 'initsel|0|str| |buffered|-|-\ngroup|2\npush|0|none\noutput\npop\npopall'),
    ('json output twice', 'initsel|0|str| |buffered|-|-\ngroup|2\npush|0|x\n' + R2 + '\noutput\n' + R2 + '\noutput\npopall'),
    ('json nested objects', 'initsel|0|str| |buffered|-|-\ninitsel|0|num| |buffered|-|-\ngroup|2\npush|-|devices\npush|-|-\npush|0|dev\nuse|0\n' + R2 + '\noutput\npop\npush|1|nums\nuse|1\n' + R2 + '\noutput\npop\npop\npush|-|-\npush|0|dev\nuse|0\n' + trow(s='three') + '\noutput\npop\npop\npop\npopall'),
    ('json unnamed top', 'group|2\npush|-|-\npopall'),
    ('json interleaved', 'initsel|0|str| |buffered|-|-\ninitsel|0|num| |buffered|-|-\ngroup|2\npush|0|a\npush|1|b\nuse|0\n' + R2 + '\noutput\npopall'),
    ('json rows flags cleared', 'initsel|0|str,num| |aligned,buffered,headings,rows|-|-\ngroup|2\npush|0|r\n' + R2 + '\noutput\npop\n' + R2 + '\noutput\npopall'),
    ('json unbuffered becomes buffered', 'initsel|0|str| |aligned,headings|-|-\ngroup|2\npush|0|r\n' + R2 + '\noutput\npopall'),
    ('json prefix', 'initsel|0|str,num| |buffered,prefix|-|-\nprefix|dm_\ngroup|2\npush|0|r\n' + R2 + '\noutput\npopall'),
    ('json destroy after popall', 'initsel|0|str| |buffered|-|-\ngroup|2\npush|0|r\n' + R2 + '\npopall\ngroupdestroy'),
    ('json selection', 'initsel|0|str,num| |buffered|-|num>1\ngroup|2\npush|0|r\n' + R2 + '\npopall'),
    ('json selected field', 'initsel|0|str,selected| |buffered|-|num>1\ngroup|2\npush|0|r\n' + R2 + '\npopall'),
    ('pop empty group', 'group|1\npop\npop'),
    ('basic no name', 'initsel|0|str| |buffered|-|-\ngroup|1\npush|-|Outer\npopall'),
    ('flags restored on pop', 'initsel|0|str,num| |aligned,buffered,headings|-|-\ngroup|2\npush|0|r\n' + R2 + '\noutput\npop\n' + R2 + '\noutput'),
]
case_file('09-groups.case', GPRE, g_cases)

# ---------------------------------------------------------------- misc
m_cases = [
    ('compact', 'initsel|0|str,num,ostr,list| |aligned,buffered,headings|-|-\n' + '\n'.join([trow(os_='s:', lst='l:-:'), trow(os_='s:', lst='l:-:,a')]) + '\ncompact\noutput'),
    ('compact last column', 'initsel|0|str,ostr| |aligned,buffered,headings|-|-\n' + '\n'.join([trow(os_='s:'), trow(os_='s:')]) + '\ncompact\noutput'),
    ('compact given', 'initsel|0|str,ostr,list| |aligned,buffered,headings|-|-\n' + '\n'.join([trow(os_='s:', lst='l:-:'), trow(os_='s:', lst='l:-:')]) + '\ncompactgiven|ostr\noutput'),
    ('compact given null', 'initsel|0|str,ostr,list| |aligned,buffered,headings|-|-\n' + trow(os_='s:', lst='l:-:') + '\ncompactgiven|-\noutput'),
    ('compact given empty item', 'initsel|0|str,ostr| |aligned,buffered,headings|-|-\n' + trow(os_='s:') + '\ncompactgiven|ostr,\noutput'),
    ('compact unbuffered', 'initsel|0|str,ostr| |aligned,headings|-|-\ncompact\n' + trow(os_='s:') + '\noutput'),
    ('compact empty report', 'initsel|0|str,ostr| |aligned,buffered,headings|-|-\ncompact\noutput'),
    ('compact all empty', 'initsel|0|ostr,lstr| |aligned,buffered,headings|-|-\n' + trow(os_='s:', ls='s:') + '\ncompact\noutput'),
    ('compact hidden sort', 'initsel|0|str,ostr| |aligned,buffered,headings|ostr|-\n' + trow(os_='s:') + '\ncompact\noutput'),
    ('compact rows', 'initsel|0|str,ostr,num| |buffered,headings,rows|-|-\n' + trow(os_='s:') + '\ncompact\noutput'),
    ('headings explicit', 'initsel|0|str,num| |aligned,buffered,headings|-|-\nheadings\n' + R2 + '\noutput'),
    ('headings explicit empty', 'initsel|0|str,num| |aligned,buffered,headings|-|-\nheadings\noutput'),
    ('headings rows', 'initsel|0|str,num| |buffered,headings,rows|-|-\nheadings\n' + R2 + '\noutput'),
    ('headings no flag', 'initsel|0|str,num| |aligned,buffered|-|-\nheadings'),
    ('empty output', 'initsel|0|str,num| |aligned,buffered,headings|-|-\noutput\nisempty'),
    ('isempty', 'initsel|0|str| |buffered|-|-\nisempty\n' + R2 + '\nisempty\noutput\nisempty'),
    ('destroy rows', 'initsel|0|str| |aligned,buffered,headings|-|-\n' + trow(s='wide value here') + '\ndestroyrows\nisempty\n' + trow(s='x') + '\noutput'),
    ('output twice', 'initsel|0|str| |aligned,buffered,headings|-|-\n' + R2 + '\noutput\n' + R2 + '\noutput'),
    ('unbuffered rows each printed', 'initsel|0|str,num| |headings|-|-\n' + R2 + '\noutput'),
    ('unbuffered rows flag', 'initsel|0|str,num| |headings,rows|-|-\n' + R2 + '\noutput'),
    ('help ignores rows', 'initsel|0|help| |buffered|-|-\n' + R2 + '\noutput\nisempty'),
    ('help sort key', 'initsel|0|str| |buffered|help|-\n' + R2 + '\noutput'),
    ('help selection ignores rows', 'initsel|0|str| |buffered|-|help\n' + R2 + '\nrowsel|1|s:x\noutput'),
    ('free and reuse slot', 'initsel|0|str| |buffered|-|-\nfree\ninitsel|0|num| |buffered|-|-\n' + R2 + '\noutput'),
    ('two reports interleaved', 'initsel|0|str| |buffered|-|-\ninitsel|0|num| |buffered|-|-\nuse|0\n' + R2 + '\nuse|1\n' + R2 + '\nuse|0\noutput\nuse|1\noutput'),
    ('percent helpers', '\n'.join('percent|%d|%d' % (a, b) for a, b in [(0, 0), (1, 0), (0, 5), (5, 5), (1, 3), (2, 3), (1, 1000000000), (999999999, 1000000000), (1, 2), (7, 9)])),
    ('many fields', 'initsel|0|' + ','.join(['str', 'num'] * 10) + '|,|buffered|-|-\n' + R2 + '\noutput'),
    ('types out all', 'initsel|0|all| |buffered|-|-'),
    ('types out keys', 'initsel|1|str| |buffered|onum|-'),
    ('types out selection', 'initsel|1|str| |buffered|-|onum>1'),
    ('types out help', 'initsel|1|str| |buffered|-|help'),
    ('types out failed selection', 'initsel|1|str| |buffered|-|onum>'),
    ('init keys null', 'init|0|str| |buffered|-\n' + R2 + '\noutput'),
    ('canonical key', 'initsel|0|str| |buffered|o_n_u_m|-\n' + R2 + '\noutput'),
    ('sort key too long', 'initsel|0|str| |buffered|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|-'),
    ('sort key help list', 'initsel|1|str| |buffered|nosuch|-'),
]
case_file('10-misc.case', TPRE, m_cases)

# ---------------------------------------------------------------- dates and times
import calendar


def ts(y, mo, d, h=0, mi=0, se=0):
    return calendar.timegm((y, mo, d, h, mi, se))


TIMES = [(2024, 1, 1), (2024, 1, 1, 23, 59, 59), (2024, 1, 2), (2024, 1, 15, 12), (2024, 1, 31, 23, 59, 59),
         (2024, 2, 1), (2024, 2, 29, 12), (2024, 3, 1), (2024, 3, 30, 12), (2024, 3, 31, 12), (2024, 4, 1),
         (2024, 4, 30, 12), (2024, 5, 31, 12), (2024, 6, 1), (2024, 6, 30, 12), (2024, 7, 31, 12),
         (2024, 12, 31, 23, 59, 59), (2025, 1, 1), (2023, 3, 30, 12), (2023, 1, 31, 12), (2000, 3, 30, 12),
         (1999, 12, 31, 23, 59, 59), (2024, 6, 1, 12, 30, 0), (2024, 6, 1, 12, 30, 59), (2024, 6, 1, 12, 31),
         (2024, 6, 1, 13), (2024, 6, 1, 11, 59, 59)]
TROWS = '\n'.join(trow(s='%04d-%02d-%02d_%02d:%02d:%02d' % (t + (0, 0, 0))[:6], t='svt:%d:%d' % (ts(*t), ts(*t)))
                  for t in TIMES)
DATES = ['2024-01-01', '2024-01-15', '2024-01-31', '2024-02-01', '2024-02-29', '2024-03-01', '2024-03-30',
         '2024-03-31', '2024-04-30', '2024-05-31', '2024-06-30', '2024-07-31', '2024-12-31', '2023-03-30',
         '2023-01-31', '2000-03-30', '1999-12-31', '2024-01', '2024-02', '2024-03', '2024-06', '2024-12', '2024',
         '2023', '1999', '20240101', '202403', '20240330', '"2024-06-01 12"', '"2024-06-01 12:30"',
         '"2024-06-01 12:30:00"', '"2024-06-01 1230"', '"2024-06-01 123059"', '"2024-06-01 12:59"',
         '"2024-06-01 23"', '"2024-06-01 12:30 +01:00"', '"2024-06-01 12 -0130"', '"2024-06-01 12:30:59 +14"',
         '"2024-06-01 12:30 -14:00"', '"2024-06-01 12:60"', '"2024-06-01 12:30:60"', '"2024-12-31 23:59"',
         '"2024-12-31 23"', '"2024-06-01 12:59:59"', '" 2024-06-01"', '"2024-06-01 "', '2024-6-1', '2024-06-1',
         '"2024-06-01\t12"', '@1717200000', '@1717200000.5', '@0', '@1.5e3']
t_cases = []
for d in DATES:
    t_cases.append(('T time=' + d, 'initsel|0|str|,|buffered|-|%s\n%s\noutput' % (E('time=' + d), TROWS)))
for op in ['!=', '>', '>=', '<', '<=', 'since ', 'after ', 'until ', 'before ']:
    for d in ['2024-03-30', '2024-06', '"2024-06-01 12:30"', '2024']:
        t_cases.append(('T time' + op + d, 'initsel|0|str|,|buffered|-|%s\n%s\noutput' % (E('time' + op + d), TROWS)))
case_file('11-time.case', TPRE, t_cases)

# ---------------------------------------------------------------- seeded random selections
import random

rnd = random.Random(20260101)
FIELDS_R = ['str', 'num', 'size', 'pct', 'list', 'time', 'selected', 'thing_str', 'n_u_m']
OPS_R = ['=', '!=', '=~', '!~', '<', '<=', '>', '>=', ' since ', ' after ', ' until ', ' before ', '==', '=!']
VALS_R = ['alpha', 'a', '1', '20', '0', '1m', '2g', '50%', '25.5', '[a,b]', '{a}', '[a#b]', '{b,c}', '"x y"',
          "'q'", '2024-01-01', '2024', '@0', '^a', '(al|be)', '[ab]c*', '', '-1', '1k', '1.5', '.', '"2024-06-01 12"',
          'a$', '{', '[a,', '"', "'", '18446744073709551616', '101', '1e']
ALPHA_R = 'abnumstrize0129 ,&|#!()[]{}\'"=~<>%.@:-_^$*+?kmg'


def rand_atom():
    return rnd.choice(FIELDS_R) + rnd.choice(OPS_R) + rnd.choice(VALS_R)


def rand_expr(depth=0):
    r = rnd.random()
    if depth < 3 and r < 0.2:
        return '(' + rand_expr(depth + 1) + ')'
    if depth < 3 and r < 0.3:
        return '!(' + rand_expr(depth + 1) + ')'
    if depth < 3 and r < 0.55:
        return rand_expr(depth + 1) + rnd.choice([' && ', ',', ' || ', '#', ' ', '&&', '||']) + rand_expr(depth + 1)
    return rand_atom()


r_cases = []
for k in range(200):
    e = rand_expr()
    r_cases.append(('X%03d %s' % (k, e), 'initsel|0|str,num,size,pct,list,time|,|buffered|-|%s\n%s\noutput' % (E(e), SELROWS)))
for k in range(100):
    e = ''.join(rnd.choice(ALPHA_R) for _ in range(rnd.randrange(1, 25)))
    r_cases.append(('Y%03d %s' % (k, e), 'initsel|0|str,num,size,pct,list,time|,|buffered|-|%s\n%s\noutput' % (E(e), SELROWS)))
for k in range(60):
    o = ','.join(rnd.choice(FIELDS_R + ['all', 'thing_all', 'other_all', 'help', 'x', '', '_', 'ALL', 'Str'])
                 for _ in range(rnd.randrange(1, 5)))
    keys = ','.join(rnd.choice(['+', '-', '']) + rnd.choice(FIELDS_R + ['x', 'onum', 'ostr'])
                    for _ in range(rnd.randrange(0, 4))) or '-'
    r_cases.append(('Z%03d o=%s O=%s' % (k, o, keys), 'initsel|0|%s| |aligned,buffered,headings|%s|-\n%s\noutput'
                    % (E(o), E(keys), SELROWS)))
case_file('12-random.case', TPRE, r_cases)


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, text in sorted(FILES.items()):
        with open(os.path.join(OUT, name), 'w') as f:
            f.write(text)
        total += text.count('\ncase|') + text.startswith('case|')
    print('wrote %d files, %d cases' % (len(FILES), total), file=sys.stderr)


if __name__ == '__main__':
    main()
