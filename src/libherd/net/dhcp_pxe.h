/*
 * dhcp_pxe.h — who is asking: PXE clients and Raspberry Pi bootloaders
 * (../shared/notes/netboot.md, PXE 2.1 §2.4, RFC 4578), and the PXE
 * options a boot client needs in a reply.
 *
 * dhcp_client_identify() reads a request's chaddr, option 60 (vendor
 * class), 12 (host name) and 97 (client machine id) into a small struct.
 * A Pi 4/5/CM5 bootloader puts a FourCC there: 0 | "RPi4" or "RPi5" |
 * board revision | low 4 bytes of the MAC | serial — in either byte order,
 * depending on the firmware ("RPi4" big-endian, or "4iPR" with every field
 * little-endian, as a Pi 4 with serial 91cdf03d sends 3d f0 cd 91).  The
 * Pi 3 ROM sends the PXE GUID form and, on the original 3B, always xid
 * 0x26f30339; its serial cannot be derived from the packet.  Older Pi 4
 * firmware (and DHCP_OPTION97=0) sends the serial four times instead of
 * the FourCC form; that is decoded too (little-endian, an assumption:
 * no capture of that form was at hand).
 *
 * dhcp_pxe_menu() builds option 43: discovery control 3 (no broadcast /
 * multicast discovery, use the boot server list from this packet), a menu
 * prompt with timeout 0 and "PXE", one boot menu item of type 0 with the
 * text "Raspberry Pi Boot" — with three trailing spaces for the Pi 3B ROM,
 * which compares 20 bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dhcp_wire.h"

/* The xid every original Pi 3B ROM uses for every DISCOVER (netboot notes). */
#define DHCP_PI3B_ROM_XID 0x26f30339u

#define DHCP_PXE_MENU_TEXT	"Raspberry Pi Boot"
#define DHCP_PXE_MENU_TEXT_PI3B "Raspberry Pi Boot   "

enum dhcp_pi_model {
	DHCP_PI_NONE = 0, /* not (recognisably) a Raspberry Pi bootloader */
	DHCP_PI_3,	  /* Pi 3 / 3B+ ROM: PXE GUID, no FourCC */
	DHCP_PI_4,	  /* FourCC RPi4 (Pi 4, Pi 400, CM4) */
	DHCP_PI_5,	  /* FourCC RPi5 (Pi 5, CM5) */
};

struct dhcp_client_info {
	uint8_t mac[6];
	bool pxe;		 /* option 60 starts with "PXEClient" */
	bool pi3b_rom;		 /* the original Pi 3B ROM: xid 0x26f30339 */
	bool ipxe;		 /* iPXE: option 175 or user class "iPXE" */
	enum dhcp_pi_model pi;	 /* DHCP_PI_NONE when not a Pi bootloader */
	uint32_t board_revision; /* from option 97, 0 when unknown */
	char serial[9];		 /* 8 lower-case hex digits, "" when unknown */
	char vendor_class[256];	 /* option 60, printable bytes only, "" when absent */
	char hostname[64];	 /* option 12, printable, "" when absent */
};

/* Fill ret from a parsed request.  Never fails: absent or odd options just
 * leave fields empty. */
void dhcp_client_identify(const struct dhcp_packet *p, struct dhcp_client_info *ret);

/* "Pi 3", "Pi 4", "Pi 5" or "" */
const char *dhcp_pi_model_name(enum dhcp_pi_model model);

/* Write option 43's value for menu text `text` (1..64 bytes) into buf;
 * returns its length or -EINVAL / -ENOBUFS. */
int dhcp_pxe_menu(const char *text, uint8_t *buf, size_t size);
