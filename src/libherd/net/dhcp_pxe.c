/*
 * dhcp_pxe.c — recognise PXE clients and Pi bootloaders, build the PXE
 * menu option (see dhcp_pxe.h for the byte layouts and where they come from).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/endian.h"
#include "net/dhcp_pxe.h"

static void copy_printable(char *dst, size_t size, const uint8_t *src, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[n] = '\0';
}

/* Option 97: type 0 and 16 bytes.  Returns the model for a FourCC form. */
static enum dhcp_pi_model parse_machine_id(const uint8_t *v, size_t n,
					   struct dhcp_client_info *info)
{
	bool little;
	enum dhcp_pi_model model;

	if (!v || n != 17 || v[0] != 0)
		return DHCP_PI_NONE;
	if (memcmp(v + 1, "RPi4", 4) == 0 || memcmp(v + 1, "4iPR", 4) == 0)
		model = DHCP_PI_4;
	else if (memcmp(v + 1, "RPi5", 4) == 0 || memcmp(v + 1, "5iPR", 4) == 0)
		model = DHCP_PI_5;
	else
		return DHCP_PI_NONE;
	little = v[1] != 'R';
	info->board_revision = little ? get_le32(v + 5) : get_be32(v + 5);
	/* v + 9: the MAC's low 4 bytes, already in chaddr. */
	snprintf(info->serial, sizeof(info->serial), "%08x",
		 little ? get_le32(v + 13) : get_be32(v + 13));
	return model;
}

void dhcp_client_identify(const struct dhcp_packet *p, struct dhcp_client_info *ret)
{
	size_t n = 0;
	const uint8_t *v;

	memset(ret, 0, sizeof(*ret));
	memcpy(ret->mac, p->chaddr, 6);

	v = dhcp_packet_option(p, DHCP_OPT_VENDOR_CLASS, &n);
	if (v) {
		copy_printable(ret->vendor_class, sizeof(ret->vendor_class), v, n);
		ret->pxe = n >= 9 && memcmp(v, "PXEClient", 9) == 0;
	}
	v = dhcp_packet_option(p, DHCP_OPT_HOSTNAME, &n);
	if (v)
		copy_printable(ret->hostname, sizeof(ret->hostname), v, n);

	v = dhcp_packet_option(p, DHCP_OPT_CLIENT_UUID, &n);
	ret->pi = parse_machine_id(v, n, ret);
	bool pi_class =
	    ret->pxe && strcmp(ret->vendor_class, "PXEClient:Arch:00000:UNDI:002001") == 0;
	bool fourcc = ret->pi != DHCP_PI_NONE;
	if (!fourcc && pi_class && v && n == 17 && v[0] == 0 && memcmp(v + 1, v + 5, 4) == 0 &&
	    memcmp(v + 1, v + 9, 4) == 0 && memcmp(v + 1, v + 13, 4) == 0 && get_le32(v + 1) != 0) {
		/* Pi 4 firmware before the FourCC form, or DHCP_OPTION97=0: the
		 * serial four times (read little-endian like the FourCC form). */
		snprintf(ret->serial, sizeof(ret->serial), "%08x", get_le32(v + 1));
		ret->pi = DHCP_PI_4;
	}
	if (!fourcc && pi_class && p->chaddr[0] == 0xb8 && p->chaddr[1] == 0x27 &&
	    p->chaddr[2] == 0xeb)
		ret->pi = DHCP_PI_3;
	ret->pi3b_rom = ret->pxe && p->xid == DHCP_PI3B_ROM_XID;
	if (ret->pi3b_rom)
		ret->pi = DHCP_PI_3;
	/* iPXE sends the same vendor class as a BIOS PXE ROM (and a Pi 3), but
	 * marks itself with option 175 or the user class "iPXE" (RFC 3004:
	 * length-prefixed items; iPXE sends the bare string too). */
	v = dhcp_packet_option(p, DHCP_OPT_USER_CLASS, &n);
	ret->ipxe = dhcp_packet_option(p, DHCP_OPT_IPXE_ENCAP, &n) != NULL ||
		    (v && ((n == 4 && memcmp(v, "iPXE", 4) == 0) ||
			   (n >= 5 && v[0] == 4 && memcmp(v + 1, "iPXE", 4) == 0)));
	if (ret->ipxe)
		ret->pi = DHCP_PI_NONE;
}

const char *dhcp_pi_model_name(enum dhcp_pi_model model)
{
	switch (model) {
	case DHCP_PI_3:
		return "Pi 3";
	case DHCP_PI_4:
		return "Pi 4";
	case DHCP_PI_5:
		return "Pi 5";
	case DHCP_PI_NONE:
		break;
	}
	return "";
}

int dhcp_pxe_menu(const char *text, uint8_t *buf, size_t size)
{
	size_t tl = strlen(text), n = 0;

	if (tl == 0 || tl > 64)
		return -EINVAL;
	if (size < 3 + 6 + 5 + tl + 1)
		return -ENOBUFS;
	/* PXE_DISCOVERY_CONTROL = 3 */
	buf[n++] = 6;
	buf[n++] = 1;
	buf[n++] = 3;
	/* PXE_MENU_PROMPT: timeout 0, "PXE" */
	buf[n++] = 10;
	buf[n++] = 4;
	buf[n++] = 0;
	memcpy(buf + n, "PXE", 3);
	n += 3;
	/* PXE_BOOT_MENU: type 0 (16 bits), description length, description */
	buf[n++] = 9;
	buf[n++] = (uint8_t)(tl + 3);
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = (uint8_t)tl;
	memcpy(buf + n, text, tl);
	n += tl;
	buf[n++] = 255;
	return (int)n;
}
