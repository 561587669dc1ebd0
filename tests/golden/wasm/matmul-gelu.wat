(module
 (type $0 (func))
 (memory $0 1 1)
 (export "memory" (memory $0))
 (export "run" (func $run))
 (func $k0_matmul_add_div_erf_mul_mul
  (local $0 v128)
  (local $1 f32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 v128)
  (local $6 f32)
  (local $7 v128)
  (local $8 v128)
  (local $9 v128)
  (local $10 f32)
  (local $11 f32)
  (local $12 f32)
  (loop $L0
   (local.set $2
    (i32.const 0)
   )
   (loop $L1
    (local.set $0
     (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
    )
    (local.set $3
     (i32.const 0)
    )
    (loop $L2
     (local.set $0
      (f32x4.add
       (local.get $0)
       (f32x4.mul
        (f32x4.splat
         (f32.load offset=224
          (i32.shl
           (i32.add
            (i32.mul
             (local.get $4)
             (i32.const 5)
            )
            (local.get $3)
           )
           (i32.const 2)
          )
         )
        )
        (v128.load align=4
         (i32.shl
          (i32.add
           (i32.mul
            (local.get $3)
            (i32.const 6)
           )
           (local.get $2)
          )
          (i32.const 2)
         )
        )
       )
      )
     )
     (br_if $L2
      (i32.lt_s
       (local.tee $3
        (i32.add
         (local.get $3)
         (i32.const 1)
        )
       )
       (i32.const 5)
      )
     )
    )
    (v128.store offset=192 align=4
     (i32.shl
      (i32.add
       (i32.mul
        (local.get $4)
        (i32.const 6)
       )
       (local.get $2)
      )
      (i32.const 2)
     )
     (f32x4.mul
      (f32x4.mul
       (local.tee $0
        (f32x4.add
         (local.get $0)
         (v128.load offset=128 align=4
          (i32.shl
           (local.get $2)
           (i32.const 2)
          )
         )
        )
       )
       (block (result v128)
        (local.set $0
         (f32x4.div
          (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
          (f32x4.add
           (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
           (f32x4.mul
            (v128.const i32x4 0x3ea7ba05 0x3ea7ba05 0x3ea7ba05 0x3ea7ba05)
            (local.tee $5
             (f32x4.abs
              (local.tee $7
               (f32x4.div
                (local.get $0)
                (v128.const i32x4 0x3fb504f3 0x3fb504f3 0x3fb504f3 0x3fb504f3)
               )
              )
             )
            )
           )
          )
         )
        )
        (local.set $5
         (f32x4.sub
          (local.tee $9
           (f32x4.add
            (f32x4.mul
             (local.tee $8
              (f32x4.pmax
               (f32x4.pmin
                (f32x4.sub
                 (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
                 (f32x4.mul
                  (local.get $5)
                  (local.get $5)
                 )
                )
                (v128.const i32x4 0x42b0c0a5 0x42b0c0a5 0x42b0c0a5 0x42b0c0a5)
               )
               (v128.const i32x4 0xc2aeac50 0xc2aeac50 0xc2aeac50 0xc2aeac50)
              )
             )
             (v128.const i32x4 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b)
            )
            (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)
           )
          )
          (v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)
         )
        )
        (f32x4.add
         (v128.or
          (v128.and
           (f32x4.sub
            (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
            (f32x4.mul
             (f32x4.mul
              (local.get $0)
              (f32x4.add
               (f32x4.mul
                (f32x4.add
                 (f32x4.mul
                  (f32x4.add
                   (f32x4.mul
                    (f32x4.add
                     (f32x4.mul
                      (v128.const i32x4 0x3f87dc22 0x3f87dc22 0x3f87dc22 0x3f87dc22)
                      (local.get $0)
                     )
                     (v128.const i32x4 0xbfba00e3 0xbfba00e3 0xbfba00e3 0xbfba00e3)
                    )
                    (local.get $0)
                   )
                   (v128.const i32x4 0x3fb5f0e3 0x3fb5f0e3 0x3fb5f0e3 0x3fb5f0e3)
                  )
                  (local.get $0)
                 )
                 (v128.const i32x4 0xbe91a98e 0xbe91a98e 0xbe91a98e 0xbe91a98e)
                )
                (local.get $0)
               )
               (v128.const i32x4 0x3e827906 0x3e827906 0x3e827906 0x3e827906)
              )
             )
             (f32x4.mul
              (f32x4.add
               (f32x4.mul
                (f32x4.add
                 (f32x4.mul
                  (f32x4.add
                   (f32x4.mul
                    (f32x4.add
                     (f32x4.mul
                      (f32x4.add
                       (f32x4.mul
                        (f32x4.add
                         (f32x4.mul
                          (v128.const i32x4 0x3ab60b61 0x3ab60b61 0x3ab60b61 0x3ab60b61)
                          (local.tee $0
                           (f32x4.sub
                            (f32x4.sub
                             (local.get $8)
                             (f32x4.mul
                              (local.get $5)
                              (v128.const i32x4 0x3f318000 0x3f318000 0x3f318000 0x3f318000)
                             )
                            )
                            (f32x4.mul
                             (local.get $5)
                             (v128.const i32x4 0xb95e8083 0xb95e8083 0xb95e8083 0xb95e8083)
                            )
                           )
                          )
                         )
                         (v128.const i32x4 0x3c088889 0x3c088889 0x3c088889 0x3c088889)
                        )
                        (local.get $0)
                       )
                       (v128.const i32x4 0x3d2aaaab 0x3d2aaaab 0x3d2aaaab 0x3d2aaaab)
                      )
                      (local.get $0)
                     )
                     (v128.const i32x4 0x3e2aaaab 0x3e2aaaab 0x3e2aaaab 0x3e2aaaab)
                    )
                    (local.get $0)
                   )
                   (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)
                  )
                  (local.get $0)
                 )
                 (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
                )
                (local.get $0)
               )
               (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
              )
              (i32x4.shl
               (i32x4.add
                (local.get $9)
                (v128.const i32x4 0x0000007f 0x0000007f 0x0000007f 0x0000007f)
               )
               (i32.const 23)
              )
             )
            )
           )
           (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)
          )
          (v128.and
           (local.get $7)
           (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)
          )
         )
         (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
        )
       )
      )
      (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)
     )
    )
    (br_if $L1
     (i32.lt_s
      (local.tee $2
       (i32.add
        (local.get $2)
        (i32.const 4)
       )
      )
      (i32.const 4)
     )
    )
   )
   (local.set $2
    (i32.const 4)
   )
   (loop $L3
    (local.set $1
     (f32.const 0)
    )
    (local.set $3
     (i32.const 0)
    )
    (loop $L4
     (local.set $1
      (f32.add
       (local.get $1)
       (f32.mul
        (f32.load offset=224
         (i32.shl
          (i32.add
           (i32.mul
            (local.get $4)
            (i32.const 5)
           )
           (local.get $3)
          )
          (i32.const 2)
         )
        )
        (f32.load
         (i32.shl
          (i32.add
           (i32.mul
            (local.get $3)
            (i32.const 6)
           )
           (local.get $2)
          )
          (i32.const 2)
         )
        )
       )
      )
     )
     (br_if $L4
      (i32.lt_s
       (local.tee $3
        (i32.add
         (local.get $3)
         (i32.const 1)
        )
       )
       (i32.const 5)
      )
     )
    )
    (f32.store offset=192
     (i32.shl
      (i32.add
       (i32.mul
        (local.get $4)
        (i32.const 6)
       )
       (local.get $2)
      )
      (i32.const 2)
     )
     (f32.mul
      (f32.mul
       (local.tee $1
        (f32.add
         (local.get $1)
         (f32.load offset=128
          (i32.shl
           (local.get $2)
           (i32.const 2)
          )
         )
        )
       )
       (block (result f32)
        (local.set $1
         (f32.div
          (f32.const 1)
          (f32.add
           (f32.mul
            (local.tee $6
             (f32.abs
              (local.tee $10
               (f32.div
                (local.get $1)
                (f32.const 1.4142135381698608)
               )
              )
             )
            )
            (f32.const 0.32759109139442444)
           )
           (f32.const 1)
          )
         )
        )
        (local.set $6
         (f32.add
          (local.tee $12
           (f32.add
            (f32.mul
             (local.tee $11
              (f32.max
               (f32.min
                (f32.sub
                 (f32.const 0)
                 (f32.mul
                  (local.get $6)
                  (local.get $6)
                 )
                )
                (f32.const 88.37625885009766)
               )
               (f32.const -87.3365478515625)
              )
             )
             (f32.const 1.4426950216293335)
            )
            (f32.const 12582912)
           )
          )
          (f32.const -12582912)
         )
        )
        (f32.add
         (f32.copysign
          (f32.sub
           (f32.const 1)
           (f32.mul
            (f32.mul
             (local.get $1)
             (f32.add
              (f32.mul
               (f32.add
                (f32.mul
                 (f32.add
                  (f32.mul
                   (f32.add
                    (f32.mul
                     (local.get $1)
                     (f32.const 1.0614054203033447)
                    )
                    (f32.const -1.453152060508728)
                   )
                   (local.get $1)
                  )
                  (f32.const 1.421413779258728)
                 )
                 (local.get $1)
                )
                (f32.const -0.2844967246055603)
               )
               (local.get $1)
              )
              (f32.const 0.2548295855522156)
             )
            )
            (f32.mul
             (f32.add
              (f32.mul
               (f32.add
                (f32.mul
                 (f32.add
                  (f32.mul
                   (f32.add
                    (f32.mul
                     (f32.add
                      (f32.mul
                       (f32.add
                        (f32.mul
                         (local.tee $1
                          (f32.sub
                           (f32.sub
                            (local.get $11)
                            (f32.mul
                             (local.get $6)
                             (f32.const 0.693359375)
                            )
                           )
                           (f32.mul
                            (local.get $6)
                            (f32.const -2.1219444170128554e-04)
                           )
                          )
                         )
                         (f32.const 1.3888889225199819e-03)
                        )
                        (f32.const 0.008333333767950535)
                       )
                       (local.get $1)
                      )
                      (f32.const 0.0416666679084301)
                     )
                     (local.get $1)
                    )
                    (f32.const 0.1666666716337204)
                   )
                   (local.get $1)
                  )
                  (f32.const 0.5)
                 )
                 (local.get $1)
                )
                (f32.const 1)
               )
               (local.get $1)
              )
              (f32.const 1)
             )
             (f32.reinterpret_i32
              (i32.shl
               (i32.add
                (i32.reinterpret_f32
                 (local.get $12)
                )
                (i32.const 127)
               )
               (i32.const 23)
              )
             )
            )
           )
          )
          (local.get $10)
         )
         (f32.const 1)
        )
       )
      )
      (f32.const 0.5)
     )
    )
    (br_if $L3
     (i32.lt_s
      (local.tee $2
       (i32.add
        (local.get $2)
        (i32.const 1)
       )
      )
      (i32.const 6)
     )
    )
   )
   (br_if $L0
    (i32.le_s
     (local.tee $4
      (i32.add
       (local.get $4)
       (i32.const 1)
      )
     )
     (i32.const 0)
    )
   )
  )
 )
 (func $run
  (call $k0_matmul_add_div_erf_mul_mul)
 )
)
