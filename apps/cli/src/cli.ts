import { runMain } from 'citty'
import { main } from './main'

runMain(main)
