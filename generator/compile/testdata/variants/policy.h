/* Fixture variant: policy on, bigger table. */
#define DP_POLICY_ENTRIES 4096
#define DP_ENABLE_POLICY 1
