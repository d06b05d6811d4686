#!/bin/sh
# make bench: the same benchmark against the C module, then ours, in one boot.
. /etc/iommufd-rs/lib.sh
for m in c rust; do
	load_iommufd $m || continue
	run_suite bench iommufd_bench $m 900 /tests/iommufd_bench
	unload_iommufd $m
done
