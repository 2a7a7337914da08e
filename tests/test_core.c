#include <check.h>
#include <stdlib.h>
#include "ck.h"
START_TEST(t_float_repr)
{
	struct { double f; const char *s; } cases[] = {
		{0.001, "0.001"}, {1.0, "1.0"}, {1e-08, "1e-08"}, {0.1, "0.1"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {-2.5, "-2.5"}, {123456789.0, "123456789.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {3.141592653589793, "3.141592653589793"},
		{0.9, "0.9"}, {0.999, "0.999"}, {1.5e300, "1.5e+300"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ck_value *v = ck_value_float(cases[i].f);
		char *s = ck_value_text(v);
		ck_assert_str_eq(s, cases[i].s);
		free(s);
		ck_value_unref(v);
	}
}
END_TEST
int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("value");
	tcase_add_test(tc, t_float_repr);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
