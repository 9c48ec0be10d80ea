/* The engine without Java: ns_get and ns_batch(64 gets) from C, same keys/values as the Java
 * benchmarks (16-byte keys, 32-byte values), 1 thread. Usage: c_baseline [entries] [batch_delegate_min] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "numashard.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
/* ns_get single and ns_batch(64 gets) from C on n entries, 16-byte keys / 32-byte values, keys pre-generated. */
int main(int argc,char**argv){
  int n = argc>1?atoi(argv[1]):100000; int bdm = argc>2?atoi(argv[2]):-1;
  ns_config c; ns_config_init(&c); if(bdm>=0) c.batch_delegate_min=bdm;
  ns_map*m; if(ns_map_new(&c,&m)){puts("new failed");return 1;}
  char *keys = malloc((size_t)n*16); unsigned char v[32]={0};
  for(int i=0;i<n;i++){char k[17];snprintf(k,17,"k%015d",i); memcpy(keys+(size_t)i*16,k,16);}
  ns_op put[1024]; memset(put,0,sizeof put);
  for(int i=0;i<n;i+=1024){int b=0; for(int j=i;j<n&&j<i+1024;j++,b++){put[b].kind=NS_OP_PUT;put[b].key=(unsigned char*)keys+(size_t)j*16;put[b].key_len=16;put[b].value=v;put[b].value_len=32;} ns_batch(m,put,b);}
  unsigned long long x=12345; unsigned char out[64*32]; size_t len; long sink=0; ns_op ops[64];
  for(int r=0;r<3;r++){
    int N=300000; double t0=now();
    for(int i=0;i<N;i++){x^=x>>12;x^=x<<25;x^=x>>27; size_t idx=(x*0x2545F4914F6CDD1DULL>>1)%n; ns_get(m,(unsigned char*)keys+idx*16,16,out,64,&len); sink+=len;}
    double t1=now();
    for(int i=0;i<N/64;i++){ for(int j=0;j<64;j++){x^=x>>12;x^=x<<25;x^=x>>27; size_t idx=(x*0x2545F4914F6CDD1DULL>>1)%n; memset(&ops[j],0,sizeof(ns_op)); ops[j].kind=NS_OP_GET; ops[j].key=(unsigned char*)keys+idx*16; ops[j].key_len=16; ops[j].out=out+j*32; ops[j].out_cap=32;} ns_batch(m,ops,64); sink+=ops[0].out_len;}
    double t2=now();
    printf("C: n=%d batch_delegate_min=%d  ns_get %.1f ns/op  ns_batch(64 gets) %.1f ns/key\n",n,bdm,(t1-t0)/N,(t2-t1)/(N/64*64));
  }
  ns_map_close(m); ns_map_free(m); return sink==42;
}
