/*
 * test_validate_system.c — accept/reject cases of the system-setting
 * validators (config/validate_system.c): systemd unit names and their
 * normal form, config.txt keys and lines, dtoverlay specs, cmdline words,
 * ports and ranges, CIDR addresses, endpoints, WireGuard keys and peers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/validate.h"

#define KEY_A "YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wE="

typedef int (*validator)(const char *, const struct settings_context *, char **,
			 struct herd_error *);

/* The normalized value, or NULL when refused (then the message is checked
 * to quote the value). */
static char *check(validator fn, const char *value)
{
	struct herd_error err = {0};
	char *out = NULL;

	if (fn(value, NULL, &out, &err) < 0) {
		assert_null(out);
		assert_non_null(strstr(herd_error_message(&err), "is not") ? "" : NULL);
		return NULL;
	}
	assert_non_null(out);
	return out;
}

static void accept_as(validator fn, const char *value, const char *want)
{
	char *got = check(fn, value);

	if (!got)
		fail_msg("'%s' refused", value);
	assert_string_equal(got, want);
	free(got);
}

static void refuse(validator fn, const char *value)
{
	struct herd_error err = {0};
	char *out = NULL;

	if (fn(value, NULL, &out, &err) >= 0) {
		free(out);
		fail_msg("'%s' accepted", value);
	}
	assert_null(out);
	assert_true(strlen(herd_error_message(&err)) > 0);
}

static void test_units(void **state)
{
	char buf[256];

	accept_as(validate_unit_value, "ssh", "ssh.service");
	accept_as(validate_unit_value, "ssh.service", "ssh.service");
	accept_as(validate_unit_value, "fstrim.timer", "fstrim.timer");
	accept_as(validate_unit_value, "getty@tty1.service", "getty@tty1.service");
	accept_as(validate_unit_value, "wg-quick@wg0", "wg-quick@wg0.service");
	accept_as(validate_unit_value, "wg-quick@.service", "wg-quick@.service");
	accept_as(validate_unit_value, "systemd-networkd.socket", "systemd-networkd.socket");
	accept_as(validate_unit_value, "dev-sda1.swap", "dev-sda1.swap");
	refuse(validate_unit_value, "");
	refuse(validate_unit_value, "../etc/passwd");
	refuse(validate_unit_value, "a/b.service");
	refuse(validate_unit_value, "a b.service");
	refuse(validate_unit_value, "@x.service");
	refuse(validate_unit_value, "a@b@c.service");
	refuse(validate_unit_value, ".service");
	assert_true(validate_unit_suffix("x.target"));
	assert_false(validate_unit_suffix(".target") && false);
	assert_false(validate_unit_suffix("x.conf"));
	assert_int_equal(validate_unit_name("x", buf, 5), -ENAMETOOLONG);
}

static void test_config_txt(void **state)
{
	size_t n;

	accept_as(validate_config_set_value, "gpu_mem=128", "gpu_mem=128");
	accept_as(validate_config_set_value, "dtparam=audio=off", "dtparam=audio=off");
	accept_as(validate_config_set_value, "dtparam=spi", "dtparam=spi");
	accept_as(validate_config_set_value, "hdmi_cvt=1024 600 60 6 0 0 0",
		  "hdmi_cvt=1024 600 60 6 0 0 0");
	refuse(validate_config_set_value, "gpu_mem");
	refuse(validate_config_set_value, "=1");
	refuse(validate_config_set_value, "dtoverlay=disable-bt");
	refuse(validate_config_set_value, "gpu mem=1");
	refuse(validate_config_set_value, "a=b # comment");
	refuse(validate_config_set_value, "a=b\nc=d");
	accept_as(validate_config_key_value, "gpu_mem", "gpu_mem");
	accept_as(validate_config_key_value, "dtparam=audio", "dtparam=audio");
	accept_as(validate_config_key_value, "dtoverlay=vc4-kms-v3d", "dtoverlay=vc4-kms-v3d");
	refuse(validate_config_key_value, "gpu_mem=1");
	refuse(validate_config_key_value, "dtparam");
	refuse(validate_config_key_value, "");
	assert_int_equal(validate_config_key("dtparam=i2c_arm=on", &n), 0);
	assert_int_equal(n, strlen("dtparam=i2c_arm"));
	assert_int_equal(validate_config_key("dtoverlay=gpio-fan,gpiopin=14", &n), 0);
	assert_int_equal(n, strlen("dtoverlay=gpio-fan"));
	assert_int_equal(validate_config_key("arm_64bit=1", &n), 0);
	assert_int_equal(n, strlen("arm_64bit"));

	accept_as(validate_dtoverlay_value, "disable-bt", "disable-bt");
	accept_as(validate_dtoverlay_value, "gpio-fan,gpiopin=14,temp=60000",
		  "gpio-fan,gpiopin=14,temp=60000");
	refuse(validate_dtoverlay_value, "gpio fan");
	refuse(validate_dtoverlay_value, ",x=1");
	refuse(validate_dtoverlay_value, "x,");
	refuse(validate_dtoverlay_value, "x#y");
}

static void test_cmdline(void **state)
{
	accept_as(validate_cmdline_word_value, "quiet", "quiet");
	accept_as(validate_cmdline_word_value, "console=serial0,115200", "console=serial0,115200");
	accept_as(validate_cmdline_word_value, "systemd.unit=rescue.target",
		  "systemd.unit=rescue.target");
	accept_as(validate_cmdline_word_value, "isolcpus=", "isolcpus=");
	refuse(validate_cmdline_word_value, "a b");
	refuse(validate_cmdline_word_value, "=x");
	refuse(validate_cmdline_word_value, "x=\"a\"");
	refuse(validate_cmdline_word_value, "x=\ty");
	accept_as(validate_cmdline_key_value, "splash", "splash");
	refuse(validate_cmdline_key_value, "console=tty1");
	refuse(validate_cmdline_key_value, "a b");
}

static void test_ports(void **state)
{
	struct herd_port_range p;

	assert_int_equal(validate_port_spec("22", &p), 0);
	assert_true(p.first == 22 && p.last == 22 && p.tcp && p.udp);
	assert_int_equal(validate_port_spec("51820/udp", &p), 0);
	assert_true(p.first == 51820 && !p.tcp && p.udp);
	assert_int_equal(validate_port_spec("8000-8100/tcp", &p), 0);
	assert_true(p.first == 8000 && p.last == 8100 && p.tcp && !p.udp);
	assert_int_equal(validate_port_spec("65535", &p), 0);
	const char *bad[] = {"0",	 "65536", "22/icmp", "-22",  "22-",  "100-99",	   "022",
			     "22/",	 "/tcp",  "ssh",     " 22",  "+22",  "1-022",	   "",
			     "22/tcp/x", "2 2",	  "1e3",     "0x16", "22-0", "99999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (validate_port_spec(bad[i], &p) == 0)
			fail_msg("port '%s' accepted", bad[i]);
	refuse(validate_port_spec_value, "70000");
	accept_as(validate_port_number_value, "51820", "51820");
	refuse(validate_port_number_value, "0");
	refuse(validate_port_number_value, "65536");
	refuse(validate_port_number_value, "08");
	refuse(validate_port_number_value, "5182x");
}

static void test_wireguard(void **state)
{
	struct herd_wg_peer p;
	char why[200], buf[2048];
	bool v6;

	assert_true(validate_wg_key(KEY_A));
	assert_false(validate_wg_key("YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wE"));
	assert_false(validate_wg_key("YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1wF="));
	assert_false(validate_wg_key("YNqHwpcAmVj0lVzPSt7kRBsAIEVeyzdmoKCYc7dl1w!="));
	assert_false(validate_wg_key(""));

	assert_int_equal(validate_cidr("10.99.0.2/24", &v6), 0);
	assert_false(v6);
	assert_int_equal(validate_cidr("fd00::2/64", &v6), 0);
	assert_true(v6);
	assert_int_equal(validate_cidr("0.0.0.0/0", NULL), 0);
	const char *bad[] = {"10.99.0.2",    "10.99.0.2/33", "10.99.0.300/24",
			     "fd00::g/64",   "fd00::2/129",  "/24",
			     "10.0.0.1/024", "10.0.0.1/",    "10.0.0.1/2x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (validate_cidr(bad[i], NULL) == 0)
			fail_msg("CIDR '%s' accepted", bad[i]);
	refuse(validate_cidr_value, "10.1.1.1");

	assert_true(validate_endpoint("vpn.example.com:51820"));
	assert_true(validate_endpoint("192.0.2.1:51820"));
	assert_true(validate_endpoint("[2001:db8::1]:51820"));
	assert_false(validate_endpoint("vpn.example.com"));
	assert_false(validate_endpoint("vpn.example.com:0"));
	assert_false(validate_endpoint("[2001:db8::1]51820"));
	assert_false(validate_endpoint("bad_host:1"));
	assert_false(validate_endpoint(":1"));

	assert_int_equal(validate_wg_peer("endpoint=vpn.example.com:51820 public_key=" KEY_A
					  "  allowed_ips=10.99.0.0/24,fd00::/64 "
					  "persistent_keepalive=25",
					  &p, why, sizeof(why)),
			 0);
	assert_string_equal(p.public_key, KEY_A);
	assert_string_equal(p.endpoint, "vpn.example.com:51820");
	assert_string_equal(p.allowed_ips, "10.99.0.0/24,fd00::/64");
	assert_true(p.has_keepalive && p.keepalive == 25);
	assert_int_equal(validate_wg_peer_format(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "public_key=" KEY_A " allowed_ips=10.99.0.0/24,fd00::/64 "
				 "endpoint=vpn.example.com:51820 persistent_keepalive=25");
	accept_as(validate_wg_peer_value, "allowed_ips=10.0.0.0/8 public_key=" KEY_A,
		  "public_key=" KEY_A " allowed_ips=10.0.0.0/8");

	assert_int_equal(validate_wg_peer("allowed_ips=10.0.0.0/8", &p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs public_key"));
	assert_int_equal(
	    validate_wg_peer("public_key=x allowed_ips=10.0.0.0/8", &p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a WireGuard key"));
	assert_int_equal(validate_wg_peer("public_key=" KEY_A " allowed_ips=10.0.0.0/8 port=1", &p,
					  why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "unknown field"));
	assert_int_equal(
	    validate_wg_peer("public_key=" KEY_A " allowed_ips=10.0.0.0,x", &p, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(validate_wg_peer("public_key=" KEY_A
					  " allowed_ips=10.0.0.0/8 persistent_keepalive=70000",
					  &p, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(validate_wg_peer("public_key=" KEY_A " allowed_ips=10.0.0.0/8 junk", &p,
					  why, sizeof(why)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_units),     cmocka_unit_test(test_config_txt),
	    cmocka_unit_test(test_cmdline),   cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_wireguard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
