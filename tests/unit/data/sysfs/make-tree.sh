#!/bin/bash
# make-tree.sh — rebuild the fake sysfs tree in basic/ (see README).
set -eu
cd "$(dirname "$0")"
rm -rf basic
mkdir basic
cd basic
put() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" >"$1"; }
# disk DEVDIR NAME DEV SECTORS REMOVABLE RO
disk() {
	put "$1/$2/dev" "$3"
	put "$1/$2/size" "$4"
	put "$1/$2/removable" "$5"
	put "$1/$2/ro" "$6"
	mkdir -p block
	ln -s "../$1/$2" "block/$2"
}
part() { put "$1/$2/partition" "$3"; put "$1/$2/dev" "$4"; }

usb=devices/pci0000:00/0000:00:14.0/usb1/1-1
put $usb/idVendor 0bda
put $usb/serial READER123
scsi=$usb/1-1:1.0/host6/target6:0:0/6:0:0:0
put $scsi/vendor "Generic "
put $scsi/model "STORAGE DEVICE  "
disk $scsi/block sdb 8:16 62333952 1 0
ln -s ../../../6:0:0:0 $scsi/block/sdb/device
part $scsi/block/sdb sdb1 1 8:17
part $scsi/block/sdb sdb2 2 8:18

usb2=devices/pci0000:00/0000:00:14.0/usb2/2-1
put $usb2/idVendor 05e3
scsi2=$usb2/2-1:1.0/host7/target7:0:0/7:0:0:0
put $scsi2/vendor "Generic"
put $scsi2/model "SD Reader"
disk $scsi2/block sdc 8:32 31116288 1 1
ln -s ../../../7:0:0:0 $scsi2/block/sdc/device

usb3=devices/pci0000:00/0000:00:14.0/usb3/3-1
put $usb3/idVendor 174c
scsi3=$usb3/3-1:1.0/host8/target8:0:0/8:0:0:0
put $scsi3/vendor "ASMT"
put $scsi3/model "2115"
disk $scsi3/block sdd 8:48 1953525168 1 0
ln -s ../../../8:0:0:0 $scsi3/block/sdd/device

mmc=devices/platform/soc/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa
put $mmc/name SC64G
put $mmc/serial 0x1234abcd
put $mmc/type SD
put $mmc/manfid 0x000003
disk $mmc/block mmcblk0 179:0 124735488 0 0
ln -s ../../../mmc0:aaaa $mmc/block/mmcblk0/device
part $mmc/block/mmcblk0 mmcblk0p1 1 179:1

nvme=devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0
put $nvme/model "Samsung SSD 980 1TB"
put $nvme/serial S64ANS0T
disk $nvme nvme0n1 259:0 1953525168 0 0
ln -s ../../nvme0 $nvme/nvme0n1/device
part $nvme/nvme0n1 nvme0n1p1 1 259:1
part $nvme/nvme0n1 nvme0n1p2 2 259:2
part $nvme/nvme0n1 nvme0n1p3 3 259:3
mkdir -p $nvme/nvme0n1/nvme0n1p2/holders
ln -s ../../../../../../../../virtual/block/dm-0 $nvme/nvme0n1/nvme0n1p2/holders/dm-0

disk devices/virtual/block dm-0 253:0 1900000000 0 0
disk devices/virtual/block loop0 7:0 0 0 0
disk devices/virtual/block ram0 1:0 8192 0 0
